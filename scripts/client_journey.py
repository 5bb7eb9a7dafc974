"""A new user's journey through a Python client generated from the OpenAPI document.

openapi-python-client generates a typed client from the document (the served
`/openapi.json`, or a file such as docs/openapi.json); the journey then drives it against a
running API, with the generated models only: register, login, the profile (phone, an
address), the products of a pincode, the cart, an order, the order reaching PREPARING (an
admin approves it if it is held; the checkout itself must do the rest), and its tracking.

    .venv/bin/python scripts/client_journey.py --base-url http://127.0.0.1:3000
    .venv/bin/python scripts/client_journey.py --spec docs/openapi.json --generate-only

Needs `milkrun serve --demo` (its Bengaluru catalog) and MILKRUN_ADMIN_EMAIL /
MILKRUN_ADMIN_PASSWORD for the admin (scripts/e2e-local.sh runs it so).
"""

import argparse
import datetime
import importlib
import os
import subprocess
import sys
import tempfile
import time
import uuid

PINCODE = "560034"  # served by the demo catalog's dairies
PACKAGE = "milkrun_client"


def generate(spec: str, into: str) -> None:
    """Generates the client package into `into`/milkrun_client from a file or a URL."""
    bin_dir = os.path.dirname(sys.executable)
    source = ["--url", spec] if spec.startswith(("http://", "https://")) else ["--path", spec]
    # The generator formats its output with ruff, installed beside it in the venv.
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    result = subprocess.run(
        [os.path.join(bin_dir, "openapi-python-client"), "generate", *source, "--meta", "none",
         "--output-path", os.path.join(into, PACKAGE)],
        env=env, capture_output=True, text=True)
    output = result.stdout + result.stderr
    if result.returncode != 0 or "Warning" in output or "Error" in output:
        sys.exit(f"openapi-python-client could not generate a clean client from {spec}:\n{output}")
    sys.path.insert(0, into)


def load():
    """The generated modules the journey uses (an import error fails the check)."""
    names = {
        "client": "client", "types": "types", "models": "models",
        "register": "api.users.register", "login": "api.users.login",
        "patch_me": "api.users.patch_me", "put_address": "api.users.put_address",
        "list_products": "api.products.list_products", "get_product": "api.products.get_product",
        "add_item": "api.cart.add_item", "place_order": "api.orders.place_order",
        "get_order": "api.orders.get_order", "approve_order": "api.orders.approve_order",
        "track_order": "api.orders.track_order",
    }
    return argparse.Namespace(**{
        key: importlib.import_module(f"{PACKAGE}.{module}") for key, module in names.items()})


def ok(response, what, *types):
    """The parsed body of a 2xx answer of one of `types`, or exits with what came back."""
    parsed = response.parsed
    if not 200 <= int(response.status_code) < 300 or not isinstance(parsed, types):
        sys.exit(f"{what}: HTTP {int(response.status_code)} {response.content[:500]!r}")
    print(f"  {what}: {int(response.status_code)}")
    return parsed


def journey(c, base_url: str, admin_email: str, admin_password: str) -> None:
    m = c.models
    guest = c.client.Client(base_url=base_url, raise_on_unexpected_status=True)
    email = f"journey-{uuid.uuid4().hex[:12]}@milkrun.test"
    password = "journey correct horse"
    registered = ok(c.register.sync_detailed(client=guest, body=m.RegisterRequest(
        name="Journey Customer", email=email, password=password)), "register", m.RegisterResponse)
    assert registered.role == m.Role.CUSTOMER, registered.role

    def log_in(address, secret):
        session = ok(c.login.sync_detailed(client=guest, body=m.LoginRequest(
            email=address, password=secret)), f"login {address}", m.LoginResponse)
        return c.client.AuthenticatedClient(base_url=base_url, token=session.token,
                                            raise_on_unexpected_status=True)

    customer = log_in(email, password)
    profile = ok(c.patch_me.sync_detailed(client=customer, body=m.PatchMeRequest(
        phone="+919876543210")), "PATCH /users/me (phone)", m.UserProfile)
    assert profile.phone == "+919876543210", profile.phone
    profile = ok(c.put_address.sync_detailed("home", client=customer, body=m.AddressInput(
        line1="12 Journey Road", city="Bengaluru", state="Karnataka", pincode=PINCODE,
        is_default=True)), "PUT /users/me/addresses/home", m.UserProfile)
    assert profile.is_profile_complete, "a phone and an address complete the profile"

    products = ok(c.list_products.sync_detailed(client=guest, pincode=PINCODE),
                  f"GET /products?pincode={PINCODE}", m.ProductList)
    line = None
    for product in products.items:
        details = ok(c.get_product.sync_detailed(product.product_id, client=guest),
                     f"GET /products/{product.product_id}", m.ProductDetails)
        stocked = [a for a in details.availability if a.in_stock and a.stock >= 2]
        if stocked:
            line = (details, stocked[0].variant_id)
            break
    if line is None:
        sys.exit(f"no product in stock for pincode {PINCODE}: is the server running with --demo?")
    details, variant_id = line
    cart = ok(c.add_item.sync_detailed(client=customer, body=m.NewCartItem(
        product_id=str(details.product_id), variant_id=str(variant_id), quantity=1)),
        f"POST /cart/items ({details.name})", m.PricedCart)
    assert len(cart.items) == 1, cart

    tomorrow = (datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=5, minutes=30)))
                + datetime.timedelta(days=2)).date()
    placed = ok(c.place_order.sync_detailed(client=customer, idempotency_key=str(uuid.uuid4()),
                                            body=m.NewOrderBody(
        delivery_date=tomorrow, delivery_slot=m.DeliverySlot.MORNING,
        payment_method=m.PaymentMethod.CARD, address_label="home")), "POST /orders", m.PlacedOrder)
    order_id = placed.order_id

    admin = log_in(admin_email, admin_password)
    deadline = time.monotonic() + 60
    while True:
        order = ok(c.get_order.sync_detailed(order_id, client=customer),
                   f"GET /orders/{order_id}", m.OrderView)
        status = order.status
        if status == m.OrderStatus.PREPARING:
            break
        if status == m.OrderStatus.ON_HOLD:
            ok(c.approve_order.sync_detailed(order_id, client=admin),
               "admin: POST /orders/{id}/approve (held for review)", m.Order)
        # The checkout itself must take it to PREPARING: nothing here forces a move.
        elif status not in (m.OrderStatus.PENDING, m.OrderStatus.PAYMENT_PENDING,
                            m.OrderStatus.CONFIRMED):
            sys.exit(f"the order ended {status.value} instead of reaching PREPARING: {order.to_dict()}")
        if time.monotonic() > deadline:
            sys.exit(f"the order is still {status.value} after 60 s: {order.to_dict()}")
        time.sleep(0.5)

    track = ok(c.track_order.sync_detailed(order_id, client=customer),
               f"GET /orders/{order_id}/track", m.OrderTrack)
    seen = [change.status for change in track.timeline]
    assert track.status == m.OrderStatus.PREPARING, track.status
    assert seen[0] == m.OrderStatus.PENDING and seen[-1] == m.OrderStatus.PREPARING, seen
    assert track.deliveries, "a PREPARING order has its deliveries scheduled"
    print(f"journey done: order {order_id} is PREPARING "
          f"({' → '.join(s.value for s in seen)}), {len(track.deliveries)} delivery(ies)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", help="the running API, e.g. http://127.0.0.1:3000")
    parser.add_argument("--spec", help="the document to generate from (default: BASE_URL/openapi.json)")
    parser.add_argument("--generate-only", action="store_true",
                        help="generate the client and import what the journey uses, then stop")
    args = parser.parse_args()
    spec = args.spec or (args.base_url and args.base_url.rstrip("/") + "/openapi.json")
    if not spec or not (args.generate_only or args.base_url):
        parser.error("give --base-url (and/or --spec with --generate-only)")
    with tempfile.TemporaryDirectory() as into:
        generate(spec, into)
        modules = load()
        print(f"client generated from {spec} and imported")
        if args.generate_only:
            return
        admin_email = os.environ.get("MILKRUN_ADMIN_EMAIL")
        admin_password = os.environ.get("MILKRUN_ADMIN_PASSWORD")
        if not admin_email or not admin_password:
            sys.exit("set MILKRUN_ADMIN_EMAIL and MILKRUN_ADMIN_PASSWORD (the server's admin)")
        journey(modules, args.base_url.rstrip("/"), admin_email, admin_password)


if __name__ == "__main__":
    main()
