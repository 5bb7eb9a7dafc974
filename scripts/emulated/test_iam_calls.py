"""iam_calls.py finds a call that a function's template policy does not allow, and only that.

moto_serial runs with the recorder on, the template's resources are created in it, and boto3
clients sign as template functions (their logical ids as access key ids, as the emulated suite
signs them): calls their policies allow are not reported, calls they do not are, each once,
and the recorded request still reaches moto whole.

Usage: test_iam_calls.py   (starts its own moto_serial on a free port)
"""

import json
import os
import sys
import tempfile
from pathlib import Path

import boto3

import iam_calls
from template_resources import REGION, Emulation
from test_moto_serial import serving

PARAMETERS = {"Stage": "dev", "SecretsPrefix": "/milkrun", "MailFrom": "no-reply@milkrun.test"}


def signed_as(endpoint: str, service: str, function: str):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id=function, aws_secret_access_key="testing")


def put(emulation: Emulation, logical: str, value: str) -> dict:
    """A Put of an item with every key attribute of the table `logical` set to `value`."""
    schema = emulation.template["Resources"][logical]["Properties"]["KeySchema"]
    item = {key["AttributeName"]: {"S": value} for key in schema}
    return {"Put": {"TableName": emulation.physical[logical], "Item": item}}


def main() -> int:
    calls = Path(tempfile.mkdtemp()) / "calls.jsonl"
    with serving({**os.environ, "MILKRUN_MOTO_CALLS": str(calls)}) as endpoint:
        emulation = Emulation(endpoint, PARAMETERS, prefix="iam-")
        emulation.create_all()
        table = emulation.physical
        # POST /orders commits an order with its idempotency record and audit entry: allowed.
        order = signed_as(endpoint, "dynamodb", "OrderFunction")
        order.transact_write_items(TransactItems=[put(emulation, "OrdersTable", "o1"), put(emulation, "AuditTable", "a1")])
        order.query(TableName=table["OrdersTable"], IndexName="ByUser",
                    KeyConditionExpression="userKey = :u", ExpressionAttributeValues={":u": {"S": "x"}})
        # Twice: recorded once.
        for _ in range(2):
            order.delete_item(TableName=table["UsersTable"], Key={"pk": {"S": "u"}})
        # Only the user function reads the signing key.
        try:
            signed_as(endpoint, "ssm", "AnalyticsConsumerFunction").get_parameters(Names=["/milkrun/dev/signing-key"])
        except Exception:  # noqa: BLE001 - the parameter does not exist here; the call was made
            pass
        # The notification consumer may text a phone number, and publish to no topic.
        sns = signed_as(endpoint, "sns", "NotificationConsumerFunction")
        sns.publish(PhoneNumber="+919876543210", Message="milk at 6")
        sns.publish(TopicArn=table["OrderEventsTopic"], Message="{}")
        # The nightly run queues its pages (SQS's JSON protocol, in batches): allowed there,
        # not from the order function.
        queue = table["SubscriptionRunQueue"]
        page = [{"Id": "1", "MessageBody": "{}"}]
        signed_as(endpoint, "sqs", "SubscriptionRunFunction").send_message_batch(QueueUrl=queue, Entries=page)
        signed_as(endpoint, "sqs", "OrderFunction").send_message(QueueUrl=queue, MessageBody="{}")
        # The report goes with its chart (a raw send); the notification consumer's mail is
        # simple, and a raw one is not its to send.
        raw = {"Raw": {"Data": b"From: no-reply@milkrun.test\r\nTo: a@b.test\r\n\r\nmilk"}}
        for function in ("DailyReportFunction", "NotificationConsumerFunction"):
            signed_as(endpoint, "sesv2", function).send_email(
                FromEmailAddress="no-reply@milkrun.test", Destination={"ToAddresses": ["a@b.test"]}, Content=raw)
        # Not a template function: the harness's own calls are not held to any policy.
        signed_as(endpoint, "dynamodb", "testing").delete_item(
            TableName=table["UsersTable"], Key={"pk": {"S": "u"}})

        written = signed_as(endpoint, "dynamodb", "testing").get_item(
            TableName=table["OrdersTable"], Key={"pk": {"S": "o1"}})
        assert "Item" in written, "the recorded transaction reached moto whole"
        found = iam_calls.violations(emulation, iam_calls.read_calls(calls))
        arn = lambda name: emulation.arns[name]
        expected = [
            f"OrderFunction: dynamodb:DeleteItem on {arn('UsersTable')} is not in its Policies",
            f"AnalyticsConsumerFunction: ssm:GetParameters on arn:aws:ssm:{REGION}:123456789012:parameter"
            f"/milkrun/dev/signing-key is not in its Policies",
            f"NotificationConsumerFunction: sns:Publish on {arn('OrderEventsTopic')} is not in its Policies",
            f"OrderFunction: sqs:SendMessage on {arn('SubscriptionRunQueue')} is not in its Policies",
            "NotificationConsumerFunction: ses:SendRawEmail on * is not in its Policies",
        ]
        assert found == expected, json.dumps(found, indent=1)
        recorded = {(c["signer"], c["action"]) for c in iam_calls.read_calls(calls)}
        assert ("OrderFunction", "dynamodb:PutItem") in recorded and ("OrderFunction", "dynamodb:Query") in recorded
        assert ("SubscriptionRunFunction", "sqs:SendMessage") in recorded
        assert ("DailyReportFunction", "ses:SendRawEmail") in recorded
        functions = iam_calls.template_functions(emulation)
        signers = {"OrderFunction", "AnalyticsConsumerFunction", "NotificationConsumerFunction",
                   "SubscriptionRunFunction", "DailyReportFunction"}
        assert iam_calls.check(emulation, calls, silent=functions - signers) == 1, "violations fail the check"
        allowed = calls.with_name("allowed.jsonl")
        kept = [c for c in iam_calls.read_calls(calls) if not iam_calls.violations(emulation, [c])]
        allowed.write_text("".join(json.dumps(c) + "\n" for c in kept))
        quiet = functions - {c["signer"] for c in kept}
        assert iam_calls.check(emulation, allowed, silent=quiet) == 0
        assert iam_calls.check(emulation, allowed, silent=quiet - {"CartFunction"}) == 1, "one never seen fails it"
        print(f"iam_calls: {len(found)} calls outside their functions' policies found, and no other")
        return 0


if __name__ == "__main__":
    sys.exit(main())
