"""The differential test of statemachine/checkout.asl.json: the same checkouts through AWS
semantics (moto's Step Functions running the definition, its Lambda tasks on the real
checkout-task binary) and through the local runner (`milkrun serve`'s ASL interpreter over
the same task handler). Each scenario must end in the same order state, by the same order
statuses, through the same sequence of states in every execution it started.

Run by `run.py e2e` after the HTTP suite, with the emulated API already up; it starts its own
`milkrun serve` on a fresh data folder.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = json.loads((ROOT / "statemachine" / "checkout.asl.json").read_text())
PASSWORD = "correct horse battery"
SETTLED = {"PAYMENT_FAILED", "ON_HOLD", "PREPARING", "FAILED", "CANCELLED", "REFUNDED", "CONFIRMED"}


def parallel_branch_states() -> set[str]:
    """States inside Parallel branches: their order of entry is not defined across branches."""
    names = set()
    for state in DEFINITION["States"].values():
        for branch in state.get("Branches", []):
            names.update(branch["States"])
    return names


BRANCH_STATES = parallel_branch_states()


def normalized(states: list[str]) -> list[str]:
    """Each run of Parallel-branch states sorted: branches run concurrently."""
    out, run = [], []
    for name in states + [None]:
        if name in BRANCH_STATES:
            run.append(name)
            continue
        out += sorted(run)
        run = []
        if name is not None:
            out.append(name)
    return out


class Host:
    def __init__(self, label: str, base: str, admin: tuple[str, str]):
        self.label, self.base, self.admin = label, base, None
        self.admin = self.login(*admin)

    def api(self, method, path, body=None, token=None):
        headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
        data = json.dumps(body).encode() if body is not None else None
        # Once more after a timeout: it runs right after the whole emulated suite, beside the
        # arm64 build, when moto (one request at a time) may still be working off a backlog.
        for attempt in range(2):
            request = urllib.request.Request(self.base + path, method=method, headers=headers, data=data)
            try:
                with urllib.request.urlopen(request, timeout=180) as response:
                    return response.status, json.loads(response.read() or b"{}")
            except urllib.error.HTTPError as error:
                return error.code, json.loads(error.read() or b"{}")
            except (TimeoutError, urllib.error.URLError) as error:
                if attempt == 1:
                    raise
                print(f"differential: {self.label} {method} {path} got no answer ({error}); once more", flush=True)

    def ok(self, method, path, body=None, token=None):
        status, answer = self.api(method, path, body, self.admin if token is None else token)
        assert status < 300, f"{self.label}: {method} {path} → {status} {answer}"
        return answer

    def login(self, email, password):
        return self.ok("POST", "/users/login", {"email": email, "password": password}, token="")["token"]

    def world(self, stock: int, price: int = 6000):
        """A vendor serving a fresh pincode, a product with two variants stocked `stock` and
        1, and a customer with a complete profile there."""
        pincode = str(100_000 + uuid.uuid4().int % 900_000)
        vendor = self.ok("POST", "/vendors", {
            "name": "Differential Dairy", "email": "d@dairy.example", "phone": "+91 80 4000 1234",
            "address": "1 Dairy Lane", "serviceAreas": [pincode], "rating": 4.5,
            "capacity": {"dailyOrderLimit": 100}})["vendorId"]
        product = self.ok("POST", "/products", {
            "name": f"Differential milk {uuid.uuid4().hex[:8]}", "category": "MILK", "vendorIds": [vendor],
            "variants": [{"name": "1L", "price": {"amount": price}, "unit": "packet"},
                         {"name": "500ml", "price": {"amount": price // 2}, "unit": "packet"}]})
        variants = [v["variantId"] for v in product["variants"]]
        for variant, units in zip(variants, [stock, 1]):
            self.ok("PUT", f"/inventory/{vendor}/{product['productId']}/{variant}", {"operation": "SET", "quantity": units})
        email = f"diff-{uuid.uuid4().hex}@e2e.milkrun.test"
        self.ok("POST", "/users/register", {"name": "Dif Ferential", "email": email, "password": PASSWORD}, token="")
        customer = self.login(email, PASSWORD)
        self.ok("PATCH", "/users/me", {"phone": "+919812345678"}, customer)
        self.ok("PUT", "/users/me/addresses/home", {"line1": "1 MG Road", "city": "Bengaluru", "state": "KA",
                                                     "pincode": pincode, "isDefault": True}, customer)
        return {"customer": customer, "product": product["productId"], "variants": variants, "vendor": vendor}

    def order(self, world, lines, token="tok_ok", allow_partial=False):
        ist = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=5, minutes=30)
        body = {"items": [{"productId": world["product"], "variantId": world["variants"][i], "quantity": q}
                          for i, q in lines],
                "deliveryDate": (ist.date() + datetime.timedelta(days=2)).isoformat(),
                "deliverySlot": "MORNING", "paymentMethod": "CARD", "paymentToken": token,
                "allowPartial": allow_partial}
        return self.ok("POST", "/orders", body, world["customer"])["orderId"]

    def settle(self, order_id, token, after: int = 0):
        """The order once it rests in a settled status with more than `after` history entries."""
        deadline = time.time() + 90
        while time.time() < deadline:
            order = self.ok("GET", f"/orders/{order_id}", token=token)
            if order["status"] in SETTLED and len(order["statusHistory"]) > after:
                return order
            time.sleep(0.3)
        raise AssertionError(f"{self.label}: order {order_id} did not settle")


def scenarios():
    """name → steps(host) returning (order id, execution name suffixes it started)."""

    def plain(token, lines=((0, 2),), allow_partial=False, stock=10):
        def steps(host):
            world = host.world(stock)
            order_id = host.order(world, lines, token, allow_partial)
            host.settle(order_id, world["customer"])
            return order_id, world["customer"], [""]
        return steps

    def decided(decision):
        def steps(host):
            world = host.world(200)
            order_id = host.order(world, [(0, 100)])  # ₹6,000: above the ₹5,000 fraud limit
            held = host.settle(order_id, world["customer"])
            assert held["status"] == "ON_HOLD", f"{host.label}: {held['status']}"
            host.ok("POST", f"/orders/{order_id}/{decision}")
            host.settle(order_id, world["customer"], after=len(held["statusHistory"]) + 1)
            return order_id, world["customer"], ["", "-approved"] if decision == "approve" else [""]
        return steps

    def declined_then_retried(host):
        world = host.world(10)
        order_id = host.order(world, [(0, 2)], "tok_decline")
        failed = host.settle(order_id, world["customer"])
        assert failed["status"] == "PAYMENT_FAILED", f"{host.label}: {failed['status']}"
        host.ok("POST", "/payments", {"orderId": order_id, "method": "CARD", "paymentToken": "tok_ok"}, world["customer"])
        host.settle(order_id, world["customer"], after=len(failed["statusHistory"]) + 1)
        return order_id, world["customer"], ["", "-retry-1"]

    return {
        "success": plain("tok_ok"),
        "declined, then retried": declined_then_retried,
        "flaky payment, retried": plain("tok_flaky"),
        "fraud hold, approved": decided("approve"),
        "fraud hold, rejected": decided("reject"),
        "out of stock": plain("tok_ok", lines=((0, 5),), stock=3),
        "out of stock, allowPartial": plain("tok_ok", lines=((0, 2), (1, 3)), allow_partial=True),
        "a task failing unexpectedly": plain("tok_error"),
    }


class LocalHistories:
    """The states each local execution entered, from `milkrun serve`'s JSON log."""

    def __init__(self, log: Path):
        self.log = log

    def states(self, name: str) -> list[str]:
        deadline = time.time() + 30
        while time.time() < deadline:
            for line in self.log.read_text().splitlines():
                try:
                    fields = json.loads(line).get("fields", {})
                except ValueError:
                    continue
                if fields.get("execution") == name and "states" in fields:
                    return json.loads(fields["states"])
            time.sleep(0.2)
        raise AssertionError(f"local execution {name} left no history in {self.log}")


class MotoHistories:
    def __init__(self, emulation):
        self.sfn = emulation.client("stepfunctions")
        self.machine = emulation.physical["CheckoutStateMachine"]

    def states(self, name: str) -> list[str]:
        arn = self.machine.replace(":stateMachine:", ":execution:") + f":{name}"
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if self.sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
                    events = self.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
                    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
            except self.sfn.exceptions.ExecutionDoesNotExist:
                pass
            time.sleep(0.3)
        raise AssertionError(f"moto execution {name} did not finish")


def start_local(log: Path) -> tuple[subprocess.Popen, str]:
    data = tempfile.mkdtemp(prefix="milkrun-differential-")
    with __import__("socket").socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "MILKRUN_ADMIN_EMAIL": "admin@milkrun.test", "MILKRUN_ADMIN_PASSWORD": "local-admin-password"}
    server = subprocess.Popen([str(ROOT / "target" / "debug" / "milkrun"), "serve", "--addr", f"127.0.0.1:{port}",
                               "--data", data], cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{base}/openapi.json", timeout=2).read()
            return server, base
        except OSError:
            time.sleep(0.2)
    raise SystemExit("milkrun serve did not start for the differential test")


def run(emulation, emulated_base: str, emulated_admin: tuple[str, str]) -> int:
    log = ROOT / "target" / "differential-serve.log"
    server, local_base = start_local(log)
    try:
        hosts = [(Host("emulated AWS", emulated_base, emulated_admin), MotoHistories(emulation)),
                 (Host("local", local_base, ("admin@milkrun.test", "local-admin-password")), LocalHistories(log))]
        failures = 0
        for name, steps in scenarios().items():
            seen = []
            for host, histories in hosts:
                order_id, customer, suffixes = steps(host)
                runs = {suffix: normalized(histories.states(order_id + suffix)) for suffix in suffixes}
                # Read once every execution has finished: the order is where it rests.
                order = host.ok("GET", f"/orders/{order_id}", token=customer)
                seen.append((order["status"], [c["status"] for c in order["statusHistory"]], runs))
            same = seen[0] == seen[1]
            failures += not same
            print(f"differential: {name}: {'same' if same else 'DIFFERENT'} → {seen[0][0]} via "
                  f"{' '.join(seen[0][1])}; states {sum(len(r) for r in seen[0][2].values())}", flush=True)
            if not same:
                for (host, _), outcome in zip(hosts, seen):
                    print(f"  {host.label}: {json.dumps(outcome)}", flush=True)
        return 1 if failures else 0
    finally:
        server.terminate()
        server.wait(timeout=30)
