"""Emulated AWS for tests: moto's server on loopback with template.yaml's resources.

  run.py contract [FILTER]   the AWS adapters' contract tests against moto (the milkrun-aws suite dynamodb_contract)
  run.py e2e        the real function binaries under `cargo lambda watch`, with the
                    environment the template gives them, behind a small API Gateway stand-in
                    that routes by the template's own Api events; then the HTTP end-to-end
                    suite, the same one that runs against `milkrun serve`, the scenarios
                    below, and at the end every function's AWS calls held against its IAM
                    policy (iam_calls.py).
  run.py up         like e2e, but keeps serving until Ctrl-C (for trying it by hand).
  run.py bench-calls   DynamoDB calls per request of each catalog route (milkrun-bench).
  run.py faults [ARGS]  the fault suite's emulated subset (milkrun-bench faults --dynamodb):
                    a smaller checkout load with every item in moto's DynamoDB, the store's
                    faults injected over the real adapter, then the same invariants.
  run.py differential  only the differential checkout test (differential.py): moto's Step
                    Functions against the local runner, scenario by scenario.
  run.py subscription-run  only the nightly run through its scheduler's target and queue
                    (subscription_run.py), then the daily report through its own (daily_report.py).
Everything listens on 127.0.0.1 and is stopped on exit.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import http.server
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import daily_report  # noqa: E402
import differential  # noqa: E402
import iam_calls  # noqa: E402
import stalled  # noqa: E402
import subscription_run  # noqa: E402
from event_sources import SqsPoller, StreamPoller, redrive  # noqa: E402
from template_resources import REGION, Emulation  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
ADMIN_EMAIL = "admin@milkrun.test"
ADMIN_PASSWORD = "emulated-admin-password"
CHILDREN: list[subprocess.Popen] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(args, env=None, log=None) -> subprocess.Popen:
    out = open(log, "w") if log else subprocess.DEVNULL
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    CHILDREN.append(proc)
    return proc


def stop_children():
    for proc in CHILDREN:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for proc in CHILDREN:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def wait_http(url: str, timeout: float, ok=lambda status: status < 500) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if ok(response.status):
                    return
        except urllib.error.HTTPError as error:
            if ok(error.code):
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"timed out waiting for {url}")


# Python's default listen backlog is 5: a burst of 200 concurrent checkouts had their
# connections time out before the gateway accepted them. API Gateway takes them all.
BACKLOG = 1024
# Invocations in flight per function, as a Lambda function's concurrency limit would cap
# them: `cargo lambda watch` drops connections when hundreds arrive at once; the rest wait.
FUNCTION_CONCURRENCY = 16
_LIMITS: dict[int, threading.BoundedSemaphore] = {}
_LIMITS_LOCK = threading.Lock()


def function_limit(port: int) -> threading.BoundedSemaphore:
    with _LIMITS_LOCK:
        return _LIMITS.setdefault(port, threading.BoundedSemaphore(FUNCTION_CONCURRENCY))


# ---------------------------------------------------------------- Lambda invocations
class Invocations(http.server.ThreadingHTTPServer):
    """What moto's Step Functions calls to invoke a Task's Lambda function. moto's own Lambda
    would run it in Docker; this sends `/2015-03-31/functions/{name}/invocations` to the real
    binary under `cargo lambda watch` instead (registered in `targets` by logical name) and
    anything else on to moto."""

    daemon_threads = True
    request_queue_size = BACKLOG

    def __init__(self, port: int, moto: str):
        super().__init__(("127.0.0.1", port), InvocationHandler)
        self.moto = moto
        self.targets: dict[str, tuple[str, int]] = {}


INVOCATION = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")


class InvocationHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        match = INVOCATION.match(self.path.split("?", 1)[0])
        name = urllib.parse.unquote(match.group(1)).rsplit(":", 1)[-1] if match else None
        if name in self.server.targets:
            binary, port = self.server.targets[name]
            with function_limit(port):
                status, headers, data = self.forward("127.0.0.1", port, f"/2015-03-31/functions/{binary}/invocations", body)
            # A function error comes back as its {errorType, errorMessage}: Lambda marks it
            # with X-Amz-Function-Error, which is what Step Functions' Retry and Catch read.
            if status >= 400 or b'"errorType"' in data[:200]:
                status, headers = 200, {**headers, "X-Amz-Function-Error": "Unhandled"}
        else:
            host, port = urllib.parse.urlsplit(self.server.moto)[1].split(":")
            status, headers, data = self.forward(host, int(port), self.path, body, dict(self.headers))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_DELETE = do_POST

    def forward(self, host, port, path, body, headers=None):
        upstream = http.client.HTTPConnection(host, port, timeout=300)
        kept = {k: v for k, v in (headers or {"Content-Type": "application/json"}).items()
                if k.lower() not in ("host", "content-length", "connection")}
        upstream.request(self.command, path, body=body or None, headers=kept)
        response = upstream.getresponse()
        data = response.read()
        out = {k: v for k, v in response.getheaders() if k.lower() not in ("content-length", "transfer-encoding", "connection")}
        return response.status, out, data


INVOCATIONS: Invocations | None = None


def start_moto(calls: Path | None = None) -> str:
    """moto on loopback, running state machines for real; its Lambda invocations go to the
    Invocations proxy (moto's Step Functions calls `localhost:$MOTO_PORT`). With `calls`, it
    writes down there what each function calls (iam_calls.py)."""
    global INVOCATIONS
    port, proxy_port = free_port(), free_port()
    # One request at a time: see moto_serial.py for why the threaded moto_server oversells.
    serial = Path(__file__).resolve().parent / "moto_serial.py"
    env = {**os.environ, "MOTO_PORT": str(proxy_port)}
    if calls:
        calls.unlink(missing_ok=True)
        env["MILKRUN_MOTO_CALLS"] = str(calls)
    spawn([str(VENV_BIN / "python"), str(serial), "127.0.0.1", str(port)], env=env, log=ROOT / "target" / "moto.log")
    endpoint = f"http://127.0.0.1:{port}"
    wait_http(f"{endpoint}/moto-api/", 30)
    INVOCATIONS = Invocations(proxy_port, endpoint)
    threading.Thread(target=INVOCATIONS.serve_forever, daemon=True).start()
    config = urllib.request.Request(f"{endpoint}/moto-api/config", method="POST",
                                    data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode())
    urllib.request.urlopen(config, timeout=30).read()
    return endpoint


def wait_port(port: int, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise SystemExit(f"nothing listens on port {port} after {timeout:.0f}s")


def aws_env(endpoint: str) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


def parameters() -> dict[str, str]:
    return {
        "Stage": "dev",
        "SecretsPrefix": "/milkrun",
        "AdminEmail": ADMIN_EMAIL,
        "MailFrom": "no-reply@milkrun.test",
        "VerifyEmailUrl": "http://127.0.0.1/users/verify-email?token=",
        "UnsubscribeUrl": "http://127.0.0.1/notifications/unsubscribe?token=",
    }


def create_secrets(emulation: Emulation) -> list[str]:
    """The stage's keys and secrets (under the emulation's SecretsPrefix and Stage), made by the
    same script an operator runs before deploying; answers the parameters' names."""
    spec = importlib.util.spec_from_file_location("create_secrets", ROOT / "scripts" / "create-secrets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    names = module.create(emulation.client("ssm"), emulation.parameters["SecretsPrefix"], emulation.parameters["Stage"],
                          admin_password=ADMIN_PASSWORD)
    print(f"secrets: {len(names)} SSM parameters", flush=True)
    return names


def run(args, env) -> int:
    print("+", " ".join(args), flush=True)
    return subprocess.call(args, cwd=ROOT, env=env)


# ---------------------------------------------------------------- contract
def test_targets(package: str) -> list[str]:
    """`--test NAME` for each of the package's suites: the cargo commands here select the whole
    workspace, like every other, so that they reuse one build (scripts/same-features.sh)."""
    return subprocess.check_output(["bash", "scripts/test-targets.sh", package], cwd=ROOT, text=True).split()


def contract() -> int:
    endpoint = start_moto()
    emulation = Emulation(endpoint, parameters(), prefix="contract-")
    emulation.create_all()
    env = {**aws_env(endpoint), **emulation.table_env()}
    env["MILKRUN_TEST_USER_EVENTS_TOPIC_ARN"] = emulation.physical["UserEventsTopic"]
    env["MILKRUN_TEST_MAIL_FROM"] = parameters()["MailFrom"]
    return run(["cargo", "test", "--workspace", "--locked", *test_targets("milkrun-aws"),
                "--", "--test-threads=4", *sys.argv[2:]], env)


def bench_calls() -> int:
    endpoint = start_moto()
    emulation = Emulation(endpoint, parameters(), prefix="bench-")
    emulation.create_all()
    env = {**aws_env(endpoint), **emulation.table_env()}
    return run(["cargo", "run", "-q", "--bin", "milkrun-bench", "--", "dynamodb-calls"], env)


# The emulated subset of the fault suite: 80 checkouts, 16 in flight, 70 units on the
# shelf, each fault at 5 % (moto serves one request at a time; the full 500 run on
# `milkrun serve` in `cargo test`).
FAULTS_SUBSET = ["--orders", "80", "--in-flight", "16", "--stock", "70", "--rate", "0.05"]


def faults() -> int:
    endpoint = start_moto()
    emulation = Emulation(endpoint, parameters(), prefix="faults-")
    emulation.create_tables()
    env = {**aws_env(endpoint), **emulation.table_env()}
    # Dead letters are the local bus's own table (SQS dead-letter queues in AWS): the same
    # keys the embedded store gives it.
    env["DEAD_LETTERS_TABLE"] = "faults-dead-letters"
    emulation.client("dynamodb").create_table(
        TableName=env["DEAD_LETTERS_TABLE"], BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in ("pk", "sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    args = sys.argv[2:] or FAULTS_SUBSET
    return run(["cargo", "run", "-q", "--locked", "--bin", "milkrun-bench", "--", "faults", "--dynamodb", *args], env)


# ---------------------------------------------------------------- API Gateway stand-in
def route_pattern(path: str) -> re.Pattern:
    regex = re.sub(r"\{[^}]+\+\}", ".*", path)
    regex = re.sub(r"\{[^}]+\}", "[^/]+", regex)
    return re.compile(f"^{regex}$")


class Gateway(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = BACKLOG

    def __init__(self, port: int, routes: list[tuple[str, re.Pattern, str, int]]):
        super().__init__(("127.0.0.1", port), GatewayHandler)
        self.routes = routes


# The problem+json body cargo lambda watch answers with when its runtime emulator fails.
EMULATOR_FAILURE = b'"type":"https://httpstatuses.com/500"'


class GatewayHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def proxy(self):
        path, _, query = self.path.partition("?")
        target = next(
            ((binary, port) for method, pattern, binary, port in self.server.routes if method == self.command and pattern.match(path)),
            None,
        )
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if target is None:
            payload = b'{"errorCode":"NOT_FOUND","errorMessage":"No such route.","timestamp":"","requestId":""}'
            return self.reply(404, {"Content-Type": "application/json"}, payload)
        binary, port = target
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
        url = f"/lambda-url/{binary}{path}" + (f"?{query}" if query else "")
        status, response_headers, data = self.invoke(port, url, body, headers)
        if status == 500 and EMULATOR_FAILURE in data and self.command == "GET":
            # cargo lambda watch itself (not the function, whose 5xx is a SPEC body) now and
            # then answers a served request with its own 500 under load; a read is safe to
            # send again, and the log says it happened.
            print(f"gateway: cargo lambda watch failed GET {path}; retrying once", file=sys.stderr, flush=True)
            status, response_headers, data = self.invoke(port, url, body, headers)
        self.reply(status, response_headers, data)

    def invoke(self, port, url, body, headers):
        with function_limit(port):
            upstream = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            upstream.request(self.command, url, body=body or None, headers=headers)
            response = upstream.getresponse()
            data = response.read()
        kept = {k: v for k, v in response.getheaders() if k.lower() not in ("content-length", "transfer-encoding", "connection")}
        return response.status, kept, data

    def reply(self, status, headers, data):
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = proxy


def watch(spec: dict, endpoint: str) -> tuple[int, dict[str, str]]:
    """Serves one function's binary under `cargo lambda watch` with its template environment,
    signing its AWS calls with its logical id as access key id (for iam_calls.py)."""
    port = free_port()
    env = {**aws_env(endpoint), **spec["env"], "AWS_ACCESS_KEY_ID": spec["logical"],
           "CARGO_LAMBDA_INVOKE_PORT": str(port)}
    spawn(
        [str(VENV_BIN / "cargo-lambda"), "lambda", "watch", "--ignore-changes", "--invoke-address", "127.0.0.1", "--invoke-port", str(port), "--bin", spec["binary"]],
        env=env, log=ROOT / "target" / f"watch-{spec['binary']}.log",
    )
    return port, env


def start_functions(endpoint: str) -> tuple[str, Emulation, list]:
    """Every function of the template under `cargo lambda watch`: the HTTP ones behind the
    API Gateway stand-in, the queue- and stream-fed ones behind pollers that do what Lambda's
    event source mappings do. The scheduled functions are started later, by their scenarios."""
    emulation = Emulation(endpoint, parameters(), prefix="e2e-")
    emulation.create_all()
    create_secrets(emulation)
    functions = emulation.functions()
    tasks = emulation.state_machine_tasks()
    served = {name: spec for name, spec in functions.items()
              if spec["routes"] or spec["queues"] or spec["streams"] or name in tasks}
    # `milkrun` too: the differential test runs the local host beside the emulated one.
    binaries = [spec["binary"] for spec in served.values()] + ["reconcile-stock", "resume-checkouts", "daily_report", "milkrun"]
    binaries = list(dict.fromkeys(binaries))
    # Build first, so that each cargo lambda watch's own build is only a check.
    subprocess.check_call(["cargo", "build", "--locked", *[arg for b in binaries for arg in ("--bin", b)]], cwd=ROOT)
    routes, pollers = [], []
    for logical, spec in served.items():
        port, _ = watch(spec, endpoint)
        if spec["routes"]:
            routes += [(method, route_pattern(path), spec["binary"], port) for method, path in spec["routes"]]
            # Any answer from the function itself (our 404 for an unknown path) means it is up.
            wait_http(f"http://127.0.0.1:{port}/lambda-url/{spec['binary']}/__ready", 900, ok=lambda s: s == 404)
        else:
            # Only a TCP connect: any HTTP request to watch's port would invoke the function.
            wait_port(port, 300)
        if logical in tasks:
            INVOCATIONS.targets[logical] = (spec["binary"], port)
        for queue in spec["queues"]:
            pollers.append(SqsPoller(emulation, queue, spec["binary"], port, REGION))
        for stream in spec["streams"]:
            pollers.append(StreamPoller(emulation, stream["table"], spec["binary"], port, REGION,
                                        stream["failures"], stream["retries"]))
        print(f"{logical}: {spec['binary']} under cargo lambda watch on port {port}", flush=True)
    for poller in pollers:
        poller.start()
    # API Gateway tries a path's static segments before its {parameters} (/jobs/daily-report
    # before /jobs/{name}): the first pattern that matches wins here, so the routes with
    # fewer parameters go first.
    routes.sort(key=lambda route: route[1].pattern.count("[^/]+") + 100 * route[1].pattern.count(".*"))
    gateway_port = free_port()
    gateway = Gateway(gateway_port, routes)
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{gateway_port}", emulation, pollers


def api(base_url: str, method: str, path: str, body=None, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(f"{base_url}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def eventually(check, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise SystemExit(f"timed out waiting for {what}")


def dead_letter_scenario(emulation: Emulation, base_url: str) -> int:
    """A consumer that keeps failing ends in the dead-letter queue, and a redrive delivers
    it: SES refuses the sender (its identity is removed), so the welcome mail fails on each
    of its three receives and moto moves it to NotificationDeadLetterQueue; with the identity
    verified again, the redrive delivers it, once, and a duplicate delivery changes nothing."""
    ses, sqs = emulation.client("ses"), emulation.client("sqs")
    sender = parameters()["MailFrom"]
    ses.delete_identity(Identity=sender)
    email, password = f"dlq-{time.time_ns()}@milkrun.test", "correct horse battery"
    status, _ = api(base_url, "POST", "/users/register", {"name": "Dee", "email": email, "password": password})
    assert status == 201, status
    dlq = emulation.physical["NotificationDeadLetterQueue"]
    count = lambda: int(sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
                        ["Attributes"]["ApproximateNumberOfMessages"])
    eventually(lambda: count() >= 1, 120, "the failing welcome mail to reach the dead-letter queue")
    token = api(base_url, "POST", "/users/login", {"email": email, "password": password})[1]["token"]
    welcome = lambda: [n for n in api(base_url, "GET", "/notifications", token=token)[1]["items"] if n["type"] == "WELCOME"]
    assert not welcome(), "nothing was sent while SES refused"
    ses.verify_email_identity(EmailAddress=sender)
    sent_before = ses.get_send_quota()["SentLast24Hours"]
    moved = redrive(emulation, "NotificationDeadLetterQueue", "NotificationQueue")
    print(f"dead-letter scenario: redrove {len(moved)} message(s)", flush=True)
    eventually(welcome, 120, "the redriven welcome mail")
    assert ses.get_send_quota()["SentLast24Hours"] == sent_before + 1, "sent once"
    # SQS and SNS deliver at least once: the same message again changes nothing.
    for body in moved:
        sqs.send_message(QueueUrl=emulation.physical["NotificationQueue"], MessageBody=body)
    time.sleep(5)
    assert len(welcome()) == 1 and ses.get_send_quota()["SentLast24Hours"] == sent_before + 1, "deduplicated by eventId"
    print("dead-letter scenario: dead-lettered after 3 receives, redriven, delivered once", flush=True)
    return 0


def run_scheduled(emulation: Emulation, endpoint: str, logical: str, event: str, **env_overrides: str) -> dict:
    """Invokes a scheduled function of the template once, with the EventBridge event in
    `event`, under `cargo lambda watch` with its template environment; answers its report."""
    spec = emulation.functions()[logical]
    spec = {**spec, "env": {**spec["env"], **env_overrides}}
    port, env = watch(spec, endpoint)
    # Only a TCP connect: any HTTP request to watch's port would itself invoke the function.
    wait_port(port, 300)
    output = subprocess.check_output(
        [str(VENV_BIN / "cargo-lambda"), "lambda", "invoke", "--invoke-address", "127.0.0.1", "--invoke-port", str(port),
         "--data-file", event, spec["binary"]], cwd=ROOT, env=env, timeout=600)
    return json.loads(output)


def scheduled_reconcile(emulation: Emulation, endpoint: str) -> int:
    """The scheduled reconcile Lambda, invoked with an EventBridge event from events/, after
    the HTTP suite left rows under their threshold: its admin alerts must reach a queue
    subscribed to the admin-alerts topic, one per row it reports."""
    sqs, sns = emulation.client("sqs"), emulation.client("sns")
    queue = sqs.create_queue(QueueName="e2e-admin-alerts-probe")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=emulation.physical["AdminAlertsTopic"], Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})
    report = run_scheduled(emulation, endpoint, "ReconcileStockFunction", "events/scheduled-reconcile-stock.json")
    received = {}
    # The alerts travel the outbox stream, the publisher and SNS first.
    deadline = time.time() + 120
    while len(received) < report["alertsPublished"] and time.time() < deadline:
        batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            time.sleep(0.5)
        for message in batch:
            alert = json.loads(message["Body"])
            received.setdefault(alert["eventId"], alert)  # SQS delivers at least once
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    alerts = list(received.values())
    print(f"reconcile-stock: {report}; {len(alerts)} distinct admin alerts received", flush=True)
    ok = (report["rowsBelowThreshold"] >= 1 and report["alertsFailed"] == 0
          and len(alerts) == report["alertsPublished"] == report["rowsBelowThreshold"]
          and all(a["eventType"] == "LOW_STOCK" and a["data"]["stock"] < a["data"]["lowStockThreshold"] for a in alerts)
          and all(a["correlationId"] == "7bf73129-1428-4cd3-a780-95db273d1602" for a in alerts))
    if not ok:
        print("the scheduled reconcile did not alert once per low row", file=sys.stderr, flush=True)
    return 0 if ok else 1


# What each function called in the emulated suite (iam_calls.py), and the functions that
# call no AWS API there: the authorizer (API Gateway's, which the stand-in does not run; it
# reads its key from SSM) and the docs (no AWS at all).
CALLS = ROOT / "target" / "moto-calls.jsonl"
CALL_NO_AWS = {"AuthorizerFunction", "DocsFunction"}


def e2e(keep_running: bool) -> int:
    endpoint = start_moto(CALLS)
    base_url, emulation, pollers = start_functions(endpoint)
    print(f"emulated API on {base_url} (moto at {endpoint})", flush=True)
    if keep_running:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return 0
    env = {**os.environ, "MILKRUN_E2E_BASE_URL": base_url, "MILKRUN_E2E_ADMIN_EMAIL": ADMIN_EMAIL,
           "MILKRUN_E2E_ADMIN_PASSWORD": ADMIN_PASSWORD, "MILKRUN_E2E_TARGET": "emulated-aws"}
    try:
        suite = run(["cargo", "test", "--workspace", "--locked", *test_targets("milkrun-e2e"),
                     "--", "--test-threads=4", *sys.argv[2:]], env)
        admin = (ADMIN_EMAIL, ADMIN_PASSWORD)
        resume = lambda: run_scheduled(emulation, endpoint, "ResumeCheckoutsFunction",
                                       "events/scheduled-resume-checkouts.json", MILKRUN_STALLED_AFTER_SECS="0")
        scheduled_run = lambda event: run_scheduled(emulation, endpoint, "SubscriptionRunFunction", event)
        scheduled_report = lambda event: run_scheduled(emulation, endpoint, "DailyReportFunction", event)
        return (suite or scheduled_reconcile(emulation, endpoint) or dead_letter_scenario(emulation, base_url)
                or subscription_run.run(base_url, admin, scheduled_run)
                or daily_report.run(base_url, admin, scheduled_report)
                or differential.run(emulation, base_url, admin) or stalled.run(emulation, base_url, admin, resume)
                or iam_calls.check(emulation, CALLS, silent=CALL_NO_AWS))
    finally:
        # Before moto goes: a poller still asking it would die with a connection refused.
        for poller in pollers:
            poller.stop()
        for poller in pollers:
            poller.join(timeout=30)


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "e2e"
    (ROOT / "target").mkdir(exist_ok=True)
    try:
        if mode == "contract":
            return contract()
        if mode == "bench-calls":
            return bench_calls()
        if mode == "faults":
            return faults()
        if mode in ("e2e", "up"):
            return e2e(keep_running=mode == "up")
        if mode in ("differential", "subscription-run"):
            endpoint = start_moto()
            base_url, emulation, pollers = start_functions(endpoint)
            admin = (ADMIN_EMAIL, ADMIN_PASSWORD)
            try:
                if mode == "differential":
                    return differential.run(emulation, base_url, admin)
                scheduled_run = lambda event: run_scheduled(emulation, endpoint, "SubscriptionRunFunction", event)
                scheduled_report = lambda event: run_scheduled(emulation, endpoint, "DailyReportFunction", event)
                return (subscription_run.run(base_url, admin, scheduled_run)
                        or daily_report.run(base_url, admin, scheduled_report))
            finally:
                for poller in pollers:
                    poller.stop()
        raise SystemExit(__doc__)
    finally:
        stop_children()


if __name__ == "__main__":
    sys.exit(main())
