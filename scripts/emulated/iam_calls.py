"""Every AWS call a function makes in the emulated suite, held against its IAM policy.

moto grants everything, so a function whose template policy lacks an action it calls passes
every emulated test and fails in AWS with AccessDenied. Here each function under `cargo
lambda watch` signs its calls with its own logical id as its access key id (moto accepts any);
`Recorder`, a WSGI layer in front of moto (moto_serial.py), writes down each call's signer,
IAM action and resource ARN, once each; `violations` then holds every recorded call of a
template function against the statements of that function's `Policies`, resolved to the
emulated resources' ARNs as SAM would resolve them to the stack's.

What IAM checks and this does too: the action (a transaction's items each as its own action,
as DynamoDB authorises them), the resource (a table, an index of it, a topic, a queue, a
parameter, a state machine; `*` wildcards), `NotResource`. What it leaves out: `Condition`
blocks (e.g. `ses:FromAddress`), Deny statements (the template has none), and the calls that
Lambda makes for a function (event source mappings' reads of queues and streams).
"""

import fnmatch
import io
import json
import re
import urllib.parse
from pathlib import Path

# A SigV4 signer's scope, in the Authorization header or a presigned URL's X-Amz-Credential.
CREDENTIAL = re.compile(r"Credential=([^/,\s&]+)/[^/]+/([^/]+)/([^/]+)/")
# A transaction's item kinds, and the actions DynamoDB authorises them as.
TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                    "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


def table_arn(region: str, account: str, table: str, index: str | None = None) -> str:
    arn = f"arn:aws:dynamodb:{region}:{account}:table/{table}"
    return f"{arn}/index/{index}" if index else arn


def dynamodb_needs(operation: str, body: dict, region: str, account: str) -> list[tuple[str, str]]:
    arn = lambda table, index=None: table_arn(region, account, table, index)
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", arn(table)) for table in body.get("RequestItems", {})]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        needs = []
        for item in body.get("TransactItems", []):
            kind, op = next(iter(item.items()))
            needs.append((f"dynamodb:{TRANSACT_ACTIONS[kind]}", arn(op["TableName"])))
        return needs
    if "TableName" in body:
        return [(f"dynamodb:{operation}", arn(body["TableName"], body.get("IndexName")))]
    return [(f"dynamodb:{operation}", "*")]


def queue_arn(url: str, region: str) -> str:
    """`http://host/123456789012/name` → the queue's ARN."""
    account, name = urllib.parse.urlsplit(url).path.strip("/").split("/")[-2:]
    return f"arn:aws:sqs:{region}:{account}:{name}"


def needs(service: str, region: str, account: str, headers: dict[str, str], path: str,
          body: bytes) -> list[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs one request to AWS needs."""
    target = headers.get("x-amz-target", "")
    decoded = json.loads(body) if target and body else {}
    operation = target.rsplit(".", 1)[-1]
    if service == "dynamodb":
        return dynamodb_needs(operation, decoded, region, account)
    if service == "ssm":
        names = decoded.get("Names") or [decoded.get("Name", "")]
        # A hierarchical name carries its leading "/", which the ARN keeps; a flat one not.
        path = lambda name: name if name.startswith("/") else f"/{name}"
        return [(f"ssm:{operation}", f"arn:aws:ssm:{region}:{account}:parameter{path(name)}") for name in names]
    if service == "states":
        machine = decoded.get("stateMachineArn") or decoded.get("executionArn", "*")
        return [(f"states:{operation}", machine)]
    if service == "ses" and path.startswith("/v2/email/outbound-emails"):
        decoded = json.loads(body or b"{}")
        action = "ses:SendRawEmail" if "Raw" in decoded.get("Content", {}) else "ses:SendEmail"
        return [(action, "*")]
    # The query protocol (SNS; SES v1; SQS of old): the form's Action and its resource.
    form = {} if target else urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    action = operation or form.get("Action", [""])[0]
    if service == "sns":
        # PublishBatch is authorised as sns:Publish; a text message has a phone number.
        resource = form.get("TopicArn", form.get("TargetArn", ["*"]))[0]
        return [("sns:Publish" if action == "PublishBatch" else f"sns:{action}", resource)]
    if service == "sqs":
        # SQS's JSON protocol or its query protocol; a batch is authorised as its one action.
        url = decoded.get("QueueUrl") or form.get("QueueUrl", [""])[0]
        return [(f"sqs:{action.replace('Batch', '')}", queue_arn(url, region))]
    return [(f"{service}:{action or path}", "*")]


class Recorder:
    """WSGI middleware: each distinct (signer, action, resource) of the requests that pass,
    one JSON line each in `path`."""

    def __init__(self, app, path: Path, account: str):
        self.app, self.path, self.account = app, path, account
        self.seen: set[tuple[str, str, str]] = set()

    def __call__(self, environ, start_response):
        body = self.body(environ)
        signed = environ.get("HTTP_AUTHORIZATION", "") + " " + urllib.parse.unquote(environ.get("QUERY_STRING", ""))
        credential = CREDENTIAL.search(signed)
        if credential:
            signer, region, service = credential.groups()
            headers = {"x-amz-target": environ.get("HTTP_X_AMZ_TARGET", "")}
            try:
                pairs = needs(service, region, self.account, headers, environ.get("PATH_INFO", ""), body)
            except Exception as error:  # noqa: BLE001 - reported as a call the check cannot read
                pairs = [(f"{service}:unreadable", f"{type(error).__name__}: {error}")]
            self.write(signer, pairs)
        return self.app(environ, start_response)

    @staticmethod
    def body(environ) -> bytes:
        """The request's body, read once and put back for moto (none without a length, unless
        the server marks a chunked one as terminated)."""
        length, terminated = environ.get("CONTENT_LENGTH"), environ.get("wsgi.input_terminated")
        if not (length or terminated):
            return b""
        body = environ["wsgi.input"].read(int(length)) if length else environ["wsgi.input"].read()
        environ["wsgi.input"] = io.BytesIO(body)
        return body

    def write(self, signer: str, pairs: list[tuple[str, str]]):
        fresh = [(signer, action, resource) for action, resource in pairs
                 if (signer, action, resource) not in self.seen]
        if not fresh:
            return
        self.seen.update(fresh)
        with self.path.open("a") as out:
            for signer, action, resource in fresh:
                out.write(json.dumps({"signer": signer, "action": action, "resource": resource}) + "\n")


def statements(emulation, logical: str) -> list[dict]:
    """The function's policy statements, resolved to the emulated resources' ARNs."""
    props = emulation.template["Resources"][logical]["Properties"]
    found = []
    for policy in props.get("Policies", []):
        if not isinstance(policy, dict) or "Statement" not in policy:
            raise ValueError(f"{logical}: a policy that is not a Statement list: {policy}")
        found += emulation.resolve(policy["Statement"])
    return found


def as_list(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def allows(statement: dict, action: str, resource: str) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    if not any(fnmatch.fnmatchcase(action, pattern) for pattern in as_list(statement["Action"])):
        return False
    if "NotResource" in statement:
        return not any(fnmatch.fnmatchcase(resource, p) for p in as_list(statement["NotResource"]))
    return any(fnmatch.fnmatchcase(resource, p) for p in as_list(statement.get("Resource", [])))


def read_calls(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def template_functions(emulation) -> set[str]:
    """The logical ids of the template's functions: the signers the check holds to a policy."""
    return {name for name, _ in emulation.resources("AWS::Serverless::Function")}


def violations(emulation, calls: list[dict]) -> list[str]:
    """Each recorded call of a template function that its policy does not allow."""
    functions = template_functions(emulation)
    policies = {name: statements(emulation, name) for name in functions}
    found = []
    for call in calls:
        if call["signer"] not in functions:
            continue
        if not any(allows(s, call["action"], call["resource"]) for s in policies[call["signer"]]):
            found.append(f"{call['signer']}: {call['action']} on {call['resource']} is not in its Policies")
    return found


def check(emulation, path: Path, silent: set[str]) -> int:
    """Prints what was checked and every violation; 1 if there is any, or if a function not
    in `silent` (those that call no AWS API in the suite) has no call recorded: its calls
    went unseen (unsigned as itself, or the recorder not in place), and the check would
    prove nothing about it."""
    calls = read_calls(path)
    functions = template_functions(emulation)
    signed = [call for call in calls if call["signer"] in functions]
    found = violations(emulation, calls)
    signers = {call["signer"] for call in signed}
    print(f"IAM: {len(signed)} distinct calls of {len(signers)} functions held against their Policies "
          f"({', '.join(sorted(signers))})", flush=True)
    for line in found:
        print(f"IAM: {line}", flush=True)
    unseen = sorted(functions - signers - silent)
    if unseen:
        print(f"IAM: no call recorded for {', '.join(unseen)} in {path}", flush=True)
    return 1 if found or unseen else 0
