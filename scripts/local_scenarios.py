"""Durability and dead letters, against the real `milkrun serve` (target/debug/milkrun):

  crash   registrations answered 201, then the server is killed with SIGKILL; after a
          restart every welcome mail arrives (the events were committed with the accounts).
  checkout  10 rounds (MILKRUN_KILL_ROUNDS) on one data folder: 30 orders placed
          concurrently while the server is killed with SIGKILL part way; after each restart
          every order ends terminal or rightly waiting (the server starts again each one
          left in checkout: PENDING, PAYMENT_PENDING, CONFIRMED), every order answered 201
          went through unless stock ran out, stock is conserved (stock + reserved = as set,
          reserved exactly by the orders that went ahead) and so is money (a SUCCEEDED
          payment of the order's total for each order that went ahead, none kept by any
          other).
  run     the nightly subscription run (POST /jobs/subscriptions) over 300 due subscriptions,
          the server killed with SIGKILL part way through it; after a restart the run again,
          then twice at once: every (subscription, date) has exactly one order, and stock is
          reserved once for each.
  dlq     mail cannot be written (the outbox folder is replaced by a file), so the welcome
          consumer fails every retry and the delivery lands in the dead-letter list;
          `milkrun dlq list` shows it, and once the folder is back `milkrun dlq replay`
          delivers it, once.

Usage: local_scenarios.py [crash|checkout|run|dlq|all]
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MILKRUN = ROOT / "target" / "debug" / "milkrun"
PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data: Path, env: dict[str, str] | None = None):
        self.data, self.port, self.process = data, free_port(), None
        self.env = {**os.environ, **(env or {})}

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Server":
        log = open(ROOT / "target" / "milkrun-scenarios.log", "a")
        self.process = subprocess.Popen([str(MILKRUN), "serve", "--addr", f"127.0.0.1:{self.port}", "--data", str(self.data)],
                                        stdout=log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"{self.base}/openapi.json", timeout=2)
                return self
            except OSError:
                time.sleep(0.2)
        raise SystemExit("milkrun serve did not start")

    def kill(self, sig=signal.SIGKILL):
        self.process.send_signal(sig)
        self.process.wait(timeout=30)


def call(base: str, method: str, path: str, body=None, token=None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def register(base: str, email: str) -> int:
    return call(base, "POST", "/users/register", {"name": "Asha", "email": email, "password": PASSWORD})[0]


def recipients(data: Path) -> list[str]:
    outbox = data / "outbox"
    if not outbox.is_dir():
        return []
    return [p.read_text().split("\n", 1)[0].removeprefix("To: ") for p in outbox.glob("*.eml")]


def eventually(check, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise SystemExit(f"timed out: {what}")


def crash(data: Path) -> None:
    server = Server(data).start()
    emails = [f"crash-{i}-{time.time_ns()}@milkrun.test" for i in range(40)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda e: register(server.base, e), emails))
    assert statuses == [201] * len(emails), statuses
    server.kill()
    before = set(recipients(data)) & set(emails)
    print(f"crash: {len(emails)} registrations answered 201; killed with SIGKILL; {len(before)} mails were out", flush=True)
    server = Server(data).start()
    mailed = eventually(lambda: (set(recipients(data)) >= set(emails)) and recipients(data), 60, "every welcome mail")
    copies = sum(1 for r in mailed if r in emails)
    print(f"crash: after the restart all {len(emails)} welcome mails arrived ({copies - len(emails)} sent twice)", flush=True)
    server.kill(signal.SIGTERM)


ADMIN = {"MILKRUN_ADMIN_EMAIL": "admin@milkrun.test", "MILKRUN_ADMIN_PASSWORD": "scenario-admin-password"}


KILL_ROUNDS = int(os.environ.get("MILKRUN_KILL_ROUNDS", "10"))
# Fewer units than ten rounds order: the last rounds run out, and their orders must fail
# holding nothing.
STOCK = 200
IN_CHECKOUT = {"PENDING", "PAYMENT_PENDING", "CONFIRMED"}
# Paid and past the fraud check: PREPARING, or ON_HOLD once the velocity rule notices a
# customer placing this many orders at once (it waits for a manager). Either holds its
# stock and its money.
THROUGH = {"PREPARING", "ON_HOLD"}
# Ended without going ahead, or waiting on the customer: nothing held.
STOPPED = {"FAILED", "PAYMENT_FAILED", "CANCELLED", "REFUNDED"}


def every_order(host, token) -> list[dict]:
    orders, cursor = [], None
    while True:
        page = host.ok("GET", "/orders?limit=100" + (f"&cursor={cursor}" if cursor else ""), token=token)
        orders += page["items"]
        cursor = page.get("nextCursor")
        if not cursor:
            return orders


def invariants(host, world, answered: list[str], round_: int) -> dict:
    """After a restart, once nothing is left in checkout: every order terminal or rightly
    waiting, every order answered 201 went through, stock and money conserved."""
    token = world["customer"]

    def settled():
        items = every_order(host, token)
        return None if any(o["status"] in IN_CHECKOUT for o in items) else items

    orders = eventually(settled, 90, f"round {round_}: every order to finish its checkout")
    status = {o["orderId"]: o["status"] for o in orders}
    odd = {s for s in status.values() if s not in THROUGH | STOPPED}
    assert not odd, f"round {round_}: orders in {odd}"
    through = [o for o in orders if o["status"] in THROUGH]
    stock = host.ok("GET", f"/inventory?vendorId={world['vendor']}")["items"]
    row = next(r for r in stock if r["variantId"] == world["variants"][0])
    # Every order answered 201 went through, unless the shelf ran out under it.
    allowed = THROUGH | ({"FAILED"} if row["stock"] < 2 else set())
    assert all(status.get(o) in allowed for o in answered), (round_, row, status)
    units = 2 * len(through)
    # No deliveries are made, so nothing is committed: stock + reserved = what was set, and
    # exactly the orders that went ahead hold theirs.
    assert (row["stock"], row["reserved"]) == (STOCK - units, units), (round_, row, len(through))
    kept = 0
    for order in orders:
        # The order's view reads its payment by order: one charged before its checkout
        # failed names no paymentId on the order (that comes with ScheduleDelivery or a hold).
        payment = host.ok("GET", f"/orders/{order['orderId']}", token=token).get("payment")
        paid = payment is not None and payment["status"] == "SUCCEEDED"
        if order["status"] in THROUGH:
            assert paid and payment["amount"]["amount"] == order["total"]["amount"], (round_, order, payment)
            kept += payment["amount"]["amount"]
        else:
            assert not paid, f"round {round_}: {order['status']} order {order['orderId']} keeps its money: {payment}"
    assert kept == sum(o["total"]["amount"] for o in through), round_
    failed = sum(1 for o in orders if o["status"] == "FAILED")
    return {"orders": len(orders), "through": len(through), "units": units, "kept": kept, "failed": failed}


def checkout(data: Path) -> None:
    """KILL_ROUNDS rounds on one data folder: 30 orders placed at once, the server killed
    with SIGKILL after about 10 answered, restarted, and the invariants checked."""
    sys.path.insert(0, str(ROOT / "scripts" / "emulated"))
    from differential import Host  # a world of vendor, product, stock and customer over HTTP

    started = time.time()
    server = Server(data, ADMIN).start()
    host = Host("local", server.base, (ADMIN["MILKRUN_ADMIN_EMAIL"], ADMIN["MILKRUN_ADMIN_PASSWORD"]))
    world = host.world(stock=STOCK)
    # Every order is for one date: room for all of them, so only stock can run out.
    host.ok("PATCH", f"/vendors/{world['vendor']}", {"capacity": {"dailyOrderLimit": 1000}})
    log = ROOT / "target" / "milkrun-scenarios.log"
    for round_ in range(1, KILL_ROUNDS + 1):
        answered: list[str] = []

        def place(_):
            try:
                answered.append(host.order(world, [(0, 2)]))
            except (AssertionError, OSError):
                pass  # killed before it answered, or out of stock: it may or may not exist

        with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
            futures = [pool.submit(place, i) for i in range(30)]
            eventually(lambda: len(answered) >= 10, 60, f"round {round_}: the first orders answered")
            server.kill()
            concurrent.futures.wait(futures)
        logged_before = log.stat().st_size
        server = Server(data, ADMIN).start()
        host.base = server.base
        seen = invariants(host, world, answered, round_)
        with open(log, "rb") as restarted:
            restarted.seek(logged_before)
            resumed = restarted.read().count(b"resuming a stalled checkout")
        print(f"checkout round {round_}: {len(answered)} of 30 answered 201 before SIGKILL; {resumed} checkouts "
              f"started again; {seen['orders']} orders in all ({seen['failed']} failed), {seen['through']} went ahead "
              f"holding {seen['units']} "
              f"units and {seen['kept']} paise; stock, money and states hold", flush=True)
    print(f"checkout: {KILL_ROUNDS} kill -9 rounds in {time.time() - started:.0f} s", flush=True)
    server.kill(signal.SIGTERM)


def subscription_run(data: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts" / "emulated"))
    from differential import Host

    server = Server(data, ADMIN).start()
    admin_login = (ADMIN["MILKRUN_ADMIN_EMAIL"], ADMIN["MILKRUN_ADMIN_PASSWORD"])
    host = Host("local", server.base, admin_login)
    world = host.world(stock=5000)
    host.ok("PATCH", f"/vendors/{world['vendor']}", {"capacity": {"dailyOrderLimit": 1000}})
    pincode = host.ok("GET", "/users/me", token=world["customer"])["addresses"][0]["pincode"]
    customers = [world["customer"]]
    for i in range(14):
        email = f"run-{i}-{time.time_ns()}@milkrun.test"
        host.ok("POST", "/users/register", {"name": "Ravi", "email": email, "password": PASSWORD}, token="")
        token = host.login(email, PASSWORD)
        host.ok("PATCH", "/users/me", {"phone": "+919812345678"}, token)
        host.ok("PUT", "/users/me/addresses/home", {"line1": "1 MG Road", "city": "Bengaluru", "state": "KA",
                                                     "pincode": pincode, "isDefault": True}, token)
        customers.append(token)
    ist = time.gmtime(time.time() + 5.5 * 3600 + 2 * 86400)
    date = time.strftime("%Y-%m-%d", ist)
    subscriptions = {}
    for token in customers:
        for _ in range(20):
            made = host.ok("POST", "/subscriptions", {
                "productId": world["product"], "variantId": world["variants"][0], "quantity": 1,
                "frequency": "DAILY", "startDate": date, "deliverySlot": "MORNING", "addressLabel": "home",
                "paymentMethod": "COD"}, token)
            subscriptions[made["subscriptionId"]] = token
    admin = host.login(*admin_login)

    def run_job(base):
        return call(base, "POST", f"/jobs/subscriptions?date={date}", token=admin)

    def ours(token):
        items = call(host.base, "GET", "/orders?limit=100", token=token)[1].get("items", [])
        return [o for o in items if o.get("subscriptionId") in subscriptions]

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(run_job, server.base)
        eventually(lambda: any(ours(t) for t in customers), 60, "the run's first orders")
        server.kill()
        try:
            running.result()
        except OSError:
            pass  # killed before it answered
    print(f"run: {len(subscriptions)} subscriptions due on {date}; the server was killed with SIGKILL during the run",
          flush=True)
    server = Server(data, ADMIN).start()
    host.base = server.base
    before = sum(len(ours(t)) for t in customers)
    print(f"run: {before} of {len(subscriptions)} orders were placed before the kill", flush=True)
    status, report = run_job(server.base)
    assert status == 200, report
    print(f"run: after the restart the run again: {report}", flush=True)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        twice = list(pool.map(run_job, [server.base, server.base]))
    assert all(s == 200 and r["ordered"] == 0 for s, r in twice), twice
    in_checkout = {"PENDING", "PAYMENT_PENDING", "CONFIRMED"}

    def settled():
        orders = [o for token in customers for o in ours(token)]
        return None if any(o["status"] in in_checkout for o in orders) else orders

    orders = eventually(settled, 120, "every subscription order to finish its checkout")
    per_subscription = {}
    for order in orders:
        per_subscription.setdefault(order["subscriptionId"], []).append(order)
    assert set(per_subscription) == set(subscriptions), (len(per_subscription), len(subscriptions))
    assert all(len(o) == 1 and o[0]["deliveryDate"] == date for o in per_subscription.values())
    assert all(o["status"] == "PREPARING" for o in orders), {o["status"] for o in orders}
    stock = host.ok("GET", f"/inventory?vendorId={world['vendor']}")["items"]
    row = next(r for r in stock if r["variantId"] == world["variants"][0])
    assert (row["stock"], row["reserved"]) == (5000 - len(subscriptions), len(subscriptions)), row
    print(f"run: then twice at once ({[r['alreadyOrdered'] for _, r in twice]} already ordered): each of the "
          f"{len(subscriptions)} subscriptions has exactly one order for {date}, PREPARING, one unit reserved each",
          flush=True)
    server.kill(signal.SIGTERM)


def dlq(data: Path) -> None:
    server = Server(data).start()
    outbox, saved = data / "outbox", data / "outbox.saved"
    outbox.mkdir(exist_ok=True)
    outbox.rename(saved)
    outbox.write_text("not a folder")
    email = f"dlq-{time.time_ns()}@milkrun.test"
    assert register(server.base, email) == 201
    listed = lambda: [json.loads(line) for line in subprocess.check_output(
        [str(MILKRUN), "dlq", "list", "--data", str(data)], text=True).splitlines() if line.strip()]
    letters = eventually(lambda: [l for l in listed() if l["event"]["data"]["email"] == email], 30, "a dead letter")
    assert letters[0]["consumer"] == "welcome-mail" and letters[0]["attempts"] == 3, letters
    token = call(server.base, "POST", "/users/login", {"email": email, "password": PASSWORD})[1]["token"]
    assert call(server.base, "GET", "/notifications", token=token)[1]["items"] == []
    print(f"dlq: the welcome mail failed 3 times and was dead-lettered ({letters[0]['error']})", flush=True)
    outbox.unlink()
    saved.rename(outbox)
    replay = json.loads(subprocess.check_output([str(MILKRUN), "dlq", "replay", "--data", str(data)], text=True))
    assert replay == {"replayed": 1, "failed": 0}, replay
    assert email in recipients(data) and recipients(data).count(email) == 1
    items = call(server.base, "GET", "/notifications", token=token)[1]["items"]
    assert [n["type"] for n in items] == ["WELCOME"], items
    assert listed() == [], "the list is empty after the replay"
    print("dlq: replayed: the mail arrived once and the notification is kept", flush=True)
    server.kill(signal.SIGTERM)


def main() -> int:
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    env_admin = {k: v for k, v in os.environ.items() if not k.startswith("MILKRUN_ADMIN")}
    os.environ.clear()
    os.environ.update(env_admin)
    for name, scenario in (("crash", crash), ("checkout", checkout), ("run", subscription_run), ("dlq", dlq)):
        if which in (name, "all"):
            data = Path(tempfile.mkdtemp(prefix=f"milkrun-{name}-"))
            try:
                scenario(data)
            finally:
                shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
