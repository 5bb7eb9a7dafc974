"""Cold starts, side by side: every function binary, a lambda_runtime hello world and a
Node.js peer, each started the way Lambda starts it, against one Runtime API emulator.

  .venv/bin/python bench/coldstart/coldstart.py [--runs 5] [--bin-dir target/release] [--only user,hello]
      [--variant z=DIR ...]

Per subject and run: a fresh Runtime API emulator (this file, stdlib http.server) on a free
loopback port; the process is started with AWS_LAMBDA_RUNTIME_API pointing at it and the
environment template.yaml gives the function (tables and secrets in moto, created by the
helpers of scripts/emulated/). Measured, with one monotonic clock:

  init          process start → its first GET .../invocation/next
  first invoke  event handed out → its POST .../response (or /error)
  peak RSS      VmHWM of /proc/<pid>/status, read when the runtime asks for the next event
                (after the first invoke), just before the process is killed
  AWS           time spent inside AWS calls (moto behind a recording proxy) during init and
                during the first invoke, so that what the code itself costs can be told apart
                from what moto on this machine costs; the report names the calls

Every function gets a realistic first request that succeeds (Bench.events, one line per
binary): a cheap real route with the admin's (or a customer's) token, a checkout step, the
scheduled events of events/, a stream record or a queue message. What those read (a
vendor, a product, a customer, two orders, the events they published) is made once before
the first run that needs it, through the functions themselves (Bench.world), unmeasured.

Each subject is run once unmeasured (it creates the bootstrap administrator, and puts the
binary in the page cache), then --runs times, round-robin across subjects so that a drift
of the machine spreads over all of them. Loopback only; every process is stopped on exit.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import http.client
import http.server
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "emulated"))
import event_sources  # noqa: E402  (the outbox stream's records, as the publisher gets them)
import run as emulated  # noqa: E402  (start_moto, create_secrets, aws_env: the e2e helpers)
from template_resources import ACCOUNT, REGION, Emulation  # noqa: E402

NODE_DIR = Path(__file__).resolve().parent / "node"
LOGS = ROOT / "target" / "coldstart"
RUNTIME = "/2018-06-01/runtime"
TIMEOUT = 60.0


# ---------------------------------------------------------------- AWS calls, timed
class AwsProxy(http.server.ThreadingHTTPServer):
    """Forwards every AWS call to moto and records when each one was inside it."""

    daemon_threads = True

    def __init__(self, upstream: str):
        super().__init__(("127.0.0.1", 0), AwsProxyHandler)
        self.upstream = upstream.removeprefix("http://")
        self.calls: list[tuple[float, float, str]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def between(self, start: float, end: float) -> tuple[float, list[str]]:
        """The time inside the AWS calls started in [start, end), and their operations. A call
        is the window's by its start: the proxy notes a call's end only after the answer has
        left, so the function may already be past the window's end (its next /next, its
        response) when it does; that tail is cut off at the window's end."""
        with self.lock:
            inside = [(s, min(e, end), op) for s, e, op in self.calls if start <= s < end]
        return sum(e - s for s, e, _ in inside), [op for _, _, op in inside]


class AwsProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes: with Nagle's algorithm on, the body of every
    # answer on a kept-alive connection waits for the client's delayed ACK (40 ms).
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def forward(self):
        started = time.perf_counter()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        upstream = http.client.HTTPConnection(self.server.upstream, timeout=TIMEOUT)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "transfer-encoding")}
        upstream.request(self.command, self.path, body=body or None, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        upstream.close()
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        operation = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
        if not operation and body.startswith(b"Action="):
            operation = body.split(b"&", 1)[0].removeprefix(b"Action=").decode()
        with self.server.lock:
            self.server.calls.append((started, time.perf_counter(), operation or self.path))

    do_GET = do_POST = do_PUT = do_DELETE = forward


# ---------------------------------------------------------------- the Runtime API
@dataclass
class Invocation:
    """What one process start did, as the Runtime API saw it."""

    event: bytes
    started: float = 0.0
    first_next: float | None = None
    handed_out: float | None = None
    answered: float | None = None
    answer: bytes = b""
    error: bytes | None = None
    init_error: bytes | None = None
    idle: threading.Event = field(default_factory=threading.Event)


class RuntimeApi(http.server.ThreadingHTTPServer):
    """One invocation: the first /next gets the event, the second one (the runtime idle
    again) is held until the process is killed."""

    daemon_threads = True

    def __init__(self, invocation: Invocation, function_arn: str):
        super().__init__(("127.0.0.1", 0), RuntimeApiHandler)
        self.invocation = invocation
        self.function_arn = function_arn
        self.request_id = str(uuid.uuid4())
        self.released = threading.Event()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class RuntimeApiHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as in AwsProxyHandler

    def log_message(self, *args):
        pass

    def reply(self, status: int, body: bytes, headers: dict[str, str] | None = None):
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def do_GET(self):
        now = time.perf_counter()
        server, invocation = self.server, self.server.invocation
        if self.path != f"{RUNTIME}/invocation/next":
            return self.reply(404, b'{"errorMessage":"unknown path"}')
        if invocation.first_next is None:
            invocation.first_next = now
            headers = {
                "Lambda-Runtime-Aws-Request-Id": server.request_id,
                "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 30_000),
                "Lambda-Runtime-Invoked-Function-Arn": server.function_arn,
                "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0",
            }
            invocation.handed_out = time.perf_counter()
            return self.reply(200, invocation.event, headers)
        invocation.idle.set()
        server.released.wait(TIMEOUT)

    def do_POST(self):
        now = time.perf_counter()
        server, invocation = self.server, self.server.invocation
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == f"{RUNTIME}/invocation/{server.request_id}/response":
            invocation.answered, invocation.answer = now, body
        elif self.path == f"{RUNTIME}/invocation/{server.request_id}/error":
            invocation.answered, invocation.error = now, body
        elif self.path == f"{RUNTIME}/init/error":
            invocation.init_error = body
            invocation.idle.set()
        else:
            return self.reply(404, b'{"errorMessage":"unknown path"}')
        self.reply(202, b'{"status":"OK"}')


# ---------------------------------------------------------------- subjects
def carried_ids(record: dict) -> list[str]:
    """The ids of the events a stream record's item carries: packed (raw deflate of their
    JSON, base64 in the record) in `events`, as audit entries and outbox items hold them."""
    packed = record["dynamodb"].get("NewImage", {}).get("events", {}).get("B")
    if not packed:
        return []
    carried = json.loads(zlib.decompress(base64.b64decode(packed), -15))
    return [entry["event"]["eventId"] for entry in carried]


def apigw(method: str, path: str, body=None, query: dict[str, str] | None = None, token: str | None = None,
          resource: str | None = None, headers: dict[str, str] | None = None) -> dict:
    """An API Gateway REST proxy event, as the template's Api events deliver it (`resource`:
    the template's path when `path` fills in its parameters)."""
    headers = {"Accept": "application/json", "Host": "bench.execute-api.ap-south-1.amazonaws.com",
               "User-Agent": "milkrun-coldstart", "X-Forwarded-For": "127.0.0.1", **(headers or {})}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    resource = resource or path
    parameters = {name.strip("{}"): value for name, value in zip(resource.split("/"), path.split("/"))
                  if name.startswith("{")} or None
    return {
        "resource": resource, "path": path, "httpMethod": method, "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query, "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": parameters, "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT, "apiId": "bench", "stage": "dev", "resourceId": "bench", "resourcePath": resource,
            "httpMethod": method, "path": f"/dev{path}", "protocol": "HTTP/1.1", "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "milkrun-coldstart"},
        },
        "body": json.dumps(body) if body is not None else None, "isBase64Encoded": False,
    }


@dataclass
class Subject:
    name: str
    argv: list[str]
    env: dict[str, str]
    event: callable  # () -> dict, called per run (a token may only exist after the user's run)
    binary: Path | None = None
    cwd: Path = ROOT
    runs: list[dict] = field(default_factory=list)


def lambda_env(name: str, memory: int, runtime_api: str) -> dict[str, str]:
    return {
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "coldstart",
        "AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023",
        "LAMBDA_TASK_ROOT": str(ROOT),
    }


def sqs_batch(body: dict, queue_arn: str) -> dict:
    """A batch of one message, as an SQS event source mapping hands it to the function."""
    now = str(int(time.time() * 1000))
    text = json.dumps(body)
    return {"Records": [{
        "messageId": str(uuid.uuid4()), "receiptHandle": "coldstart", "body": text,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": now, "SenderId": ACCOUNT,
                       "ApproximateFirstReceiveTimestamp": now},
        "messageAttributes": {}, "md5OfBody": hashlib.md5(text.encode()).hexdigest(), "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn, "awsRegion": REGION}]}


def scheduled(name: str) -> dict:
    """events/scheduled-NAME.json: what EventBridge hands a scheduled function (a rule's
    envelope; for a Scheduler schedule, the template's Input, `{}`)."""
    return json.loads((ROOT / "events" / f"scheduled-{name}.json").read_text())


def ist_today() -> datetime.date:
    return (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=5, minutes=30)).date()


# The checkout steps a successful CARD checkout runs, in the state machine's order
# (statemachine/checkout.asl.json): the setup takes one order through them.
CHECKOUT_STEPS = ["ValidateProfile", "ValidateOrder", "AssignVendors", "ReserveStock", "ProcessPayment",
                  "FraudCheck", "ConfirmOrder", "ScheduleDelivery"]


class Bench:
    def __init__(self, args):
        self.args = args
        self.token: str | None = None
        self.made: dict | None = None
        self.setup_calls = 0
        moto = emulated.start_moto()
        self.emulation = Emulation(moto, emulated.parameters(), prefix="coldstart-")
        self.emulation.create_all()
        emulated.create_secrets(self.emulation)
        self.proxy = AwsProxy(moto)
        threading.Thread(target=self.proxy.serve_forever, daemon=True).start()
        self.base_env = {k: v for k, v in emulated.aws_env(self.proxy.url).items() if not k.startswith("AWS_LAMBDA_")}
        self.base_env.pop("AWS_PROFILE", None)
        self.bin_dir = (ROOT / self.args.bin_dir).resolve()
        self.functions = {spec["binary"]: (logical, spec) for logical, spec in self.emulation.functions().items()}

    def bearer(self) -> str:
        if not self.token:
            raise SystemExit("no token: the user function's login must run first (keep 'user' in --only)")
        return self.token

    def events(self) -> dict:
        """Each function's first request, by binary: realistic for the function, answered with
        a success, and reading DynamoDB where the function does. A key "binary (role)" is a
        second event of one binary, measured as a subject of its own. Each is built per run:
        the admin's token exists once the user's login ran, the world once a run asks for it."""
        admin, world = self.bearer, self.world
        return {
            "user": lambda: apigw("POST", "/users/login", {"email": emulated.ADMIN_EMAIL, "password": emulated.ADMIN_PASSWORD}),
            "authorizer": lambda: {"type": "TOKEN", "authorizationToken": f"Bearer {admin()}",
                                   "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:bench/dev/GET/users/me"},
            "vendor": lambda: apigw("GET", "/vendors"),
            "product": lambda: apigw("GET", "/products"),
            "inventory": lambda: apigw("GET", "/inventory", query={"vendorId": world()["vendor"]}, token=admin()),
            "cart": lambda: apigw("GET", "/cart", token=world()["customer"]),  # a cart is a customer's
            "reconcile-stock": lambda: scheduled("reconcile-stock"),
            "order": lambda: apigw("GET", "/orders", token=admin()),
            # The first step of every checkout, as its Task state's Parameters hand it over, for
            # an order POST /orders just committed: reads the order and its customer.
            "checkout-task": lambda: {"step": "ValidateProfile", "orderId": world()["pending"]},
            "delivery": lambda: apigw("GET", "/deliveries", query={"date": world()["date"], "slot": "MORNING"},
                                      token=admin()),
            "payment": lambda: apigw("GET", f"/payments/{world()['payment']}", resource="/payments/{paymentId}",
                                     token=admin()),
            "subscription": lambda: apigw("GET", "/subscriptions", token=admin()),
            # The run by hand for tomorrow: a Query of each run shard (none live here).
            "subscription-job": lambda: apigw("POST", "/jobs/subscriptions", resource="/jobs/{name}",
                                              query={"date": (ist_today() + datetime.timedelta(days=1)).isoformat()},
                                              token=admin()),
            # The scheduler's start fans out (16 SQS sends, no DynamoDB); each page it sends is
            # one shard's live subscriptions read (a Query; none are live here) and planned.
            "subscription_run": lambda: scheduled("subscription-run"),
            "subscription_run (run page)": lambda: sqs_batch(
                {"date": (ist_today() + datetime.timedelta(days=1)).isoformat(), "shard": 0},
                self.emulation.arns["SubscriptionRunQueue"]),
            "resume-checkouts": lambda: scheduled("resume-checkouts"),
            "reporting": lambda: apigw("GET", "/audit", query={"entityId": world()["order"]}, token=admin()),
            "daily_report": lambda: scheduled("daily-report"),
            "notification": lambda: apigw("GET", "/notifications", token=admin()),
            # The walked order's ORDER_CONFIRMED as the outbox stream hands it over, and as its
            # queues do; an admin alert (a daily report's) for the alerts.
            "publisher": lambda: {"Records": [world()["inserted"]]},
            "notification-consumer": lambda: self.fresh("NotificationQueue"),
            "analytics-consumer": lambda: self.fresh("AnalyticsQueue"),
            "alerts-consumer": lambda: self.fresh("AlertsQueue"),
            "docs": lambda: apigw("GET", "/openapi.json"),
        }

    def function(self, binary: str, name: str, event) -> Subject:
        """`binary` as template.yaml runs it: its environment and memory size."""
        logical, spec = self.functions[binary]
        env = {**self.base_env, **spec["env"], "RUST_LOG": "info"}
        memory = int(self.emulation.template["Resources"][logical]["Properties"].get("MemorySize", 256))
        env["MEMORY"] = str(memory)
        path = self.bin_dir / binary
        return Subject(name, [str(path)], env, event, binary=path)

    def call(self, binary: str, event: dict) -> dict:
        """One unmeasured invoke for the setup; answers the answer (an HTTP answer's body),
        which must be a success."""
        self.setup_calls += 1
        answer = json.loads(self.start(self.function(binary, binary, lambda: event), f"setup{self.setup_calls}")["answer"])
        if "statusCode" not in answer:
            return answer
        if not 200 <= answer["statusCode"] < 300:
            raise SystemExit(f"setup: {binary} answered {answer['statusCode']} to {event['httpMethod']} "
                             f"{event['path']}: {answer.get('body', '')[:500]}")
        return json.loads(answer["body"]) if answer.get("body") else {}

    def world(self) -> dict:
        """What the cart, inventory, checkout-task, delivery, payment and reporting events read,
        and the publisher's and consumers' events, made once through the functions themselves
        (unmeasured, before the first run that asks for it, so outside every measured window;
        every function it calls must be in --bin-dir, whatever --only says): a vendor serving one
        pincode, a product it sells stocked 100, a customer with a complete profile there,
        and two of the customer's orders for the day after tomorrow. One is taken through
        every checkout step to PREPARING (its payment, its delivery on the round sheet); the
        other stays PENDING as POST /orders leaves it (moto's Step Functions runs no
        execution unless asked), for checkout-task's first step. Idle, it is what
        resume-checkouts restarts after six minutes (STALLED_AFTER): a whole run takes less."""
        if self.made:
            return self.made
        admin, pincode = self.bearer(), "560034"
        vendor = self.call("vendor", apigw("POST", "/vendors", {
            "name": "Coldstart Dairy", "email": "dairy@coldstart.milkrun.test", "phone": "+91 80 4000 1234",
            "address": "1 Dairy Lane", "serviceAreas": [pincode], "rating": 4.5,
            "capacity": {"dailyOrderLimit": 100}}, token=admin))["vendorId"]
        product = self.call("product", apigw("POST", "/products", {
            "name": "Coldstart milk", "category": "MILK", "vendorIds": [vendor],
            "variants": [{"name": "1L", "price": {"amount": 6000}, "unit": "packet"}]}, token=admin))
        product, variant = product["productId"], product["variants"][0]["variantId"]
        self.call("inventory", apigw("PUT", f"/inventory/{vendor}/{product}/{variant}", {"operation": "SET", "quantity": 100},
                                     resource="/inventory/{vendorId}/{productId}/{variantId}", token=admin))
        email, password = f"customer-{uuid.uuid4().hex[:8]}@coldstart.milkrun.test", "a coldstart customer"
        self.call("user", apigw("POST", "/users/register", {"name": "Cold Start", "email": email, "password": password}))
        customer = self.call("user", apigw("POST", "/users/login", {"email": email, "password": password}))["token"]
        self.call("user", apigw("PATCH", "/users/me", {"phone": "+919812345678"}, token=customer))
        self.call("user", apigw("PUT", "/users/me/addresses/home", {
            "line1": "1 MG Road", "city": "Bengaluru", "state": "KA", "pincode": pincode, "isDefault": True},
            resource="/users/me/addresses/{label}", token=customer))
        date = (ist_today() + datetime.timedelta(days=2)).isoformat()
        body = {"items": [{"productId": product, "variantId": variant, "quantity": 2}], "deliveryDate": date,
                "deliverySlot": "MORNING", "paymentMethod": "CARD", "paymentToken": "tok_ok"}
        order, pending = (self.call("order", apigw("POST", "/orders", body, token=customer,
                                                   headers={"Idempotency-Key": str(uuid.uuid4())}))["orderId"]
                          for _ in range(2))
        payment = None
        for step in CHECKOUT_STEPS:
            payment = self.call("checkout-task", {"step": step, "orderId": order}).get("paymentId", payment)
        self.made = {"vendor": vendor, "customer": customer, "date": date, "order": order, "pending": pending,
                     "payment": payment, **self.published()}
        print(f"setup: {self.setup_calls} invokes: vendor {vendor}, order {order} (PREPARING, payment {payment}), "
              f"order {pending} (PENDING)", file=sys.stderr, flush=True)
        return self.made

    def published(self) -> dict:
        """The events the setup committed, as the publisher and the consumers get them: the
        outbox stream's inserts (the publisher's event) published by the publisher through
        SNS to the queues (the consumers' events), after one daily report has added an admin
        alert (DAILY_REPORT_READY) for alerts-consumer. Answers the stream record and the
        queue messages of the walked order's ORDER_CONFIRMED and that alert."""
        self.call("daily_report", {})
        inserts = []
        for table in ("AuditTable", "OutboxTable"):  # entries carry their changes' events
            stream = event_sources.StreamPoller(self.emulation, table, "publisher", 0, REGION, None, 0)
            for shard in stream.streams.describe_stream(StreamArn=stream.arn)["StreamDescription"]["Shards"]:
                raw = stream.streams.get_records(ShardIterator=stream.iterator(shard["ShardId"], None),
                                                 Limit=1000)["Records"]
                inserts += [stream.record(r) for r in raw if r["eventName"] == "INSERT"]
        if self.call("publisher", {"Records": inserts}).get("batchItemFailures"):
            raise SystemExit("setup: the publisher did not publish the streams")
        sqs, messages = self.emulation.client("sqs"), {}
        for queue in ("NotificationQueue", "AnalyticsQueue", "AlertsQueue"):
            while batch := sqs.receive_message(QueueUrl=self.emulation.physical[queue], MaxNumberOfMessages=10,
                                               WaitTimeSeconds=0).get("Messages", []):
                for message in batch:
                    envelope = json.loads(message["Body"])  # raw message delivery: the envelope itself
                    messages.setdefault((queue, envelope["eventType"]), envelope)
                    sqs.delete_message(QueueUrl=self.emulation.physical[queue], ReceiptHandle=message["ReceiptHandle"])
        wanted = [("NotificationQueue", "ORDER_CONFIRMED"), ("AnalyticsQueue", "ORDER_CONFIRMED"),
                  ("AlertsQueue", "DAILY_REPORT_READY")]
        if missing := [key for key in wanted if key not in messages]:
            raise SystemExit(f"setup: no message {missing} (got {sorted(messages)})")
        confirmed = messages[("AnalyticsQueue", "ORDER_CONFIRMED")]["eventId"]
        return {"inserted": next(r for r in inserts if confirmed in carried_ids(r)),
                **{queue: messages[(queue, kind)] for queue, kind in wanted}}

    def fresh(self, queue: str) -> dict:
        """The setup's message of `queue` as a new event (a new eventId): each consumer
        skips an event it has processed, and every run is to be the first delivery."""
        return sqs_batch({**self.world()[queue], "eventId": str(uuid.uuid4())}, self.emulation.arns[queue])

    def subjects(self) -> list[Subject]:
        events = self.events()
        only = set(self.args.only.split(",")) if self.args.only else None
        subjects = []
        # The user function first: its login answers the token the protected routes use.
        for binary, (logical, _) in sorted(self.functions.items(), key=lambda item: item[0] != "user"):
            if only and binary not in only:
                continue  # a function left out needs no event
            names = [name for name in events if name.split(" ")[0] == binary]
            if not names:
                raise SystemExit(f"{logical}: no event for binary {binary}: add one to coldstart.py")
            subjects += [self.function(binary, name, events[name]) for name in names]
        bin_dir = self.bin_dir
        subjects.append(Subject("hello (lambda_runtime only)", [str(bin_dir / "hello")],
                                {**self.base_env, "MEMORY": "128"}, lambda: {"ping": True}, binary=bin_dir / "hello"))
        node_env = {**self.base_env, "USERS_TABLE": self.emulation.physical["UsersTable"], "MEMORY": "256",
                    "_HANDLER": "index.handler", "NODE_PATH": str(NODE_DIR / "node_modules")}
        subjects.append(Subject("node 20 (aws-lambda-ric + DynamoDB v3)",
                                ["node", str(NODE_DIR / "node_modules" / "aws-lambda-ric" / "bin" / "index.mjs"), "index.handler"],
                                node_env, lambda: {"ping": True}, cwd=NODE_DIR))
        if only:
            subjects = [s for s in subjects if s.name.split(" ")[0] in only]
        subjects += self.variants(subjects, bin_dir)
        for subject in subjects:
            if subject.binary and not subject.binary.exists():
                raise SystemExit(f"{subject.binary} is missing: cargo build --release --locked --bins -p ... first")
        return subjects

    def variants(self, subjects: list[Subject], bin_dir: Path) -> list[Subject]:
        """The same binaries built another way (--variant LABEL=DIR), side by side in this run:
        `product@z` is DIR/product with product's environment and event."""
        extra = []
        for variant in self.args.variant or []:
            label, _, directory = variant.partition("=")
            for subject in subjects:
                if subject.binary is None:
                    continue
                path = (ROOT / directory).resolve() / subject.binary.name
                name = subject.name.replace(subject.binary.name, f"{subject.binary.name}@{label}", 1)
                argv = [str(path)] + subject.argv[1:]
                extra.append(Subject(name, argv, dict(subject.env), subject.event, binary=path, cwd=subject.cwd))
        return extra

    def start(self, subject: Subject, index: int | str) -> dict:
        invocation = Invocation(event=json.dumps(subject.event()).encode())
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{subject.name.split(' ')[0]}"
        api = RuntimeApi(invocation, arn)
        threading.Thread(target=api.serve_forever, daemon=True).start()
        env = {**subject.env}
        memory = int(env.pop("MEMORY"))
        env.update(lambda_env(subject.name.split(" ")[0], memory, api.address))
        if subject.cwd != ROOT:
            env["LAMBDA_TASK_ROOT"] = str(subject.cwd)
        LOGS.mkdir(parents=True, exist_ok=True)
        log_path = LOGS / f"{log_name(subject.name)}-{index}.log"
        with open(log_path, "wb") as log:
            invocation.started = time.perf_counter()
            argv = [*self.args.wrap.split(), *subject.argv] if self.args.wrap else subject.argv
            process = subprocess.Popen(argv, cwd=subject.cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        try:
            idle = invocation.idle.wait(TIMEOUT)
            hwm = vm_hwm(process.pid)
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            api.released.set()
            api.shutdown()
            api.server_close()
        problem = None
        if not idle:
            problem = "no answer within the time limit"
        elif invocation.init_error is not None:
            problem = f"init error {invocation.init_error[:300]!r}"
        elif invocation.error is not None:
            problem = f"invoke error {invocation.error[:300]!r}"
        if problem:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise SystemExit(f"{subject.name}: {problem}\n--- {log_path}:\n{tail}")
        init = invocation.first_next - invocation.started
        invoke = invocation.answered - invocation.handed_out
        init_aws, init_calls = self.proxy.between(invocation.started, invocation.first_next)
        invoke_aws, invoke_calls = self.proxy.between(invocation.handed_out, invocation.answered)
        return {"init": init, "invoke": invoke, "init_aws": init_aws, "invoke_aws": invoke_aws,
                "init_calls": init_calls, "invoke_calls": invoke_calls, "hwm_kib": hwm,
                "status": answer_status(invocation.answer), "answer": invocation.answer}

    def run(self) -> list[Subject]:
        subjects = self.subjects()
        for subject in subjects:  # unmeasured: bootstrap admin, page cache
            first = self.start(subject, 0)
            if subject.name == "user":
                body = json.loads(json.loads(first["answer"])["body"])
                self.token = body["token"]
        for index in range(1, self.args.runs + 1):
            for subject in subjects:
                subject.runs.append(self.start(subject, index))
        return subjects


def log_name(name: str) -> str:
    """A subject's name as a file name: `subscription_run (run page)` → `subscription_run-run-page`."""
    return re.sub(r"[^\w.@-]+", "-", name).strip("-")


def vm_hwm(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def answer_status(answer: bytes) -> str:
    try:
        value = json.loads(answer)
    except ValueError:
        return "?"
    if isinstance(value, dict) and "statusCode" in value:
        return str(value["statusCode"])
    if isinstance(value, dict) and "policyDocument" in value:
        return value["policyDocument"]["Statement"][0]["Effect"]
    if isinstance(value, dict) and value.get("batchItemFailures"):  # a batch answers its failed records
        return f"{len(value['batchItemFailures'])} failed"
    return "ok"


# ---------------------------------------------------------------- report
def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def listed(calls: list[str]) -> str:
    """How many AWS calls, and which: `3: GetItem ×2, Query`."""
    if not calls:
        return "none"
    return f"{len(calls)}: " + ", ".join(op if n == 1 else f"{op} ×{n}" for op, n in Counter(calls).items())


def report(subjects: list[Subject]) -> None:
    def median(subject, key):
        return statistics.median(run[key] for run in subject.runs)

    def least(subject, key):
        return min(run[key] for run in subject.runs)

    runs = len(subjects[0].runs)
    print(f"# cold start: {runs} runs each (median / min), {time.strftime('%Y-%m-%d')}, "
          f"{os.cpu_count()} cores, {os.uname().machine}, AWS = moto on loopback behind a timing proxy")
    print("| subject | size | init | init outside AWS calls | AWS calls in init | first invoke | "
          "first invoke outside AWS | AWS calls in first invoke | peak RSS | answer |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for s in subjects:
        size = f"{s.binary.stat().st_size / 2**20:.2f} MiB" if s.binary else "—"
        outside_init = [r["init"] - r["init_aws"] for r in s.runs]
        outside_invoke = [r["invoke"] - r["invoke_aws"] for r in s.runs]
        calls = ", ".join(s.runs[-1]["init_calls"]) or "none"
        print(f"| {s.name} | {size} | {ms(median(s, 'init'))} / {ms(least(s, 'init'))} ms "
              f"| {ms(statistics.median(outside_init))} / {ms(min(outside_init))} ms | {calls} "
              f"| {ms(median(s, 'invoke'))} / {ms(least(s, 'invoke'))} ms "
              f"| {ms(statistics.median(outside_invoke))} / {ms(min(outside_invoke))} ms "
              f"| {listed(s.runs[-1]['invoke_calls'])} "
              f"| {median(s, 'hwm_kib') / 1024:.1f} MiB (max {max(r['hwm_kib'] for r in s.runs) / 1024:.1f}) "
              f"| {s.runs[-1]['status']} |")
    by_name = {s.name.split(" ")[0]: s for s in subjects}
    hello, node = by_name.get("hello"), by_name.get("node")
    functions = [s for s in subjects if s.binary and s is not hello]
    if hello and functions:
        base = median(hello, "init")
        print(f"\ngoal: init <= 2x hello's ({ms(base)} ms):")
        for s in functions:
            ratio = median(s, "init") / base
            outside = statistics.median(r["init"] - r["init_aws"] for r in s.runs) / base
            print(f"  {s.name:28} {ratio:6.1f}x ({outside:5.1f}x outside AWS calls) {'met' if ratio <= 2 else 'MISSED'}")
    if node and functions:
        cold = lambda s: statistics.median(r["init"] + r["invoke"] for r in s.runs)
        print(f"\ngoal: node >= 10x slower (init + first invoke; node {ms(cold(node))} ms):")
        for s in functions:
            ratio = cold(node) / cold(s)
            print(f"  {s.name:28} {ms(cold(s)):>7} ms  node is {ratio:5.1f}x  {'met' if ratio >= 10 else 'MISSED'}")
    if functions:
        print("\ngoal: peak RSS <= 32 MiB:")
        for s in functions:
            peak = max(r["hwm_kib"] for r in s.runs) / 1024
            print(f"  {s.name:28} {peak:5.1f} MiB {'met' if peak <= 32 else 'MISSED'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bin-dir", default="target/release", help="where the x86_64 release binaries are")
    parser.add_argument("--only", help="comma-separated subjects (binary names, 'hello', 'node')")
    parser.add_argument("--variant", action="append", metavar="LABEL=DIR",
                        help="also run the selected binaries as built in DIR, named <binary>@LABEL "
                        "(e.g. the same functions at another opt-level), side by side in the same run")
    parser.add_argument("--wrap", help="diagnostics only: a command to run each subject under "
                        "(e.g. 'strace -f -tt -o target/coldstart/strace'); its figures then include the wrapper")
    args = parser.parse_args()
    (ROOT / "target").mkdir(exist_ok=True)
    try:
        report(Bench(args).run())
    finally:
        emulated.stop_children()
    return 0


if __name__ == "__main__":
    sys.exit(main())
