"""What Lambda's event source mappings do in AWS, for functions under `cargo lambda watch`:
DynamoDB stream pollers (the audit and outbox tables → the publisher) and an SQS poller (a queue → its
consumer), each invoking the real binary with the event shape AWS sends and honouring the
partial batch failures it answers.

SQS: messages the consumer reports failed are left to become visible again; moto moves a
message to the queue's dead-letter queue once its receive count reaches `maxReceiveCount`.
Streams: a reported failure is retried from that record (up to the mapping's
`MaximumRetryAttempts`), then its metadata goes to the on-failure destination queue.
moto is served one request at a time, so no call here long-polls.
"""

from __future__ import annotations

import base64
import datetime
import http.client
import json
import threading
import time

POLL_PAUSE = 0.2


def invoke(port: int, function: str, event: dict) -> dict:
    """Invokes `function` under cargo lambda watch on `port`; a function error is {"errorType": …}."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        connection.request("POST", f"/2015-03-31/functions/{function}/invocations", body=json.dumps(event),
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        payload = response.read()
    except OSError as error:  # the function's process is gone (or going): a failed invoke
        return {"errorType": "InvokeFailed", "errorMessage": str(error)}
    try:
        answer = json.loads(payload or b"{}")
    except json.JSONDecodeError:
        answer = {"errorType": "Unreadable", "errorMessage": payload.decode(errors="replace")}
    if response.status >= 400 and "errorType" not in answer:
        answer = {"errorType": f"HTTP{response.status}", "errorMessage": str(answer)}
    return answer if isinstance(answer, dict) else {}


class Poller(threading.Thread):
    def __init__(self, name: str):
        super().__init__(name=name, daemon=True)
        self.stopped = threading.Event()
        self.invocations = 0

    def stop(self):
        self.stopped.set()


class SqsPoller(Poller):
    def __init__(self, emulation, queue: str, function: str, port: int, region: str):
        super().__init__(f"sqs-{queue}")
        self.sqs = emulation.client("sqs")
        self.url, self.arn = emulation.physical[queue], emulation.arns[queue]
        self.function, self.port, self.region = function, port, region

    def record(self, message: dict) -> dict:
        return {
            "messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
            "attributes": message.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs", "eventSourceARN": self.arn, "awsRegion": self.region,
        }

    def run(self):
        while not self.stopped.is_set():
            # A short visibility timeout, so a failed message comes back within a second.
            messages = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, VisibilityTimeout=1,
                                                WaitTimeSeconds=0, AttributeNames=["All"]).get("Messages", [])
            if not messages:
                time.sleep(POLL_PAUSE)
                continue
            answer = invoke(self.port, self.function, {"Records": [self.record(m) for m in messages]})
            self.invocations += 1
            if "errorType" in answer:
                failed = {m["MessageId"] for m in messages}
            else:
                failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
            for message in messages:
                if message["MessageId"] not in failed:
                    self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])


def epoch(value) -> float:
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    return float(value or time.time())


def wire_image(value):
    """An image as DynamoDB's JSON carries it: boto3 hands binary attributes over as bytes,
    the Lambda event carries them base64-encoded (an audit entry's packed events)."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {key: wire_image(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [wire_image(inner) for inner in value]
    return value


class StreamPoller(Poller):
    def __init__(self, emulation, table: str, function: str, port: int, region: str,
                 failures: str | None, retries: int):
        super().__init__(f"stream-{table}")
        self.streams = emulation.client("dynamodbstreams")
        self.sqs = emulation.client("sqs")
        self.arn = emulation.streams[table]
        self.failures = emulation.physical.get(failures) if failures else None
        self.function, self.port, self.region, self.retries = function, port, region, retries
        self.published = 0

    def record(self, raw: dict) -> dict:
        change = dict(raw["dynamodb"])
        change["ApproximateCreationDateTime"] = epoch(change.get("ApproximateCreationDateTime"))
        if "NewImage" in change:
            change["NewImage"] = wire_image(change["NewImage"])
        return {"eventID": raw["eventID"], "eventName": raw["eventName"], "eventVersion": raw.get("eventVersion", "1.1"),
                "eventSource": "aws:dynamodb", "awsRegion": self.region, "dynamodb": change, "eventSourceARN": self.arn}

    def deliver(self, records: list[dict]):
        """Invokes until every record is through, retrying from a reported failure."""
        attempts = 0
        while records and not self.stopped.is_set():
            answer = invoke(self.port, self.function, {"Records": records})
            self.invocations += 1
            failures = [f.get("itemIdentifier") for f in answer.get("batchItemFailures", [])]
            if "errorType" not in answer and not failures:
                self.published += len(records)
                return
            sequences = [r["dynamodb"]["SequenceNumber"] for r in records]
            start = sequences.index(failures[0]) if failures and failures[0] in sequences else 0
            self.published += start
            records = records[start:]
            attempts += 1
            if attempts > self.retries:
                if self.failures:
                    self.sqs.send_message(QueueUrl=self.failures, MessageBody=json.dumps(
                        {"requestContext": {"condition": "RetryAttemptsExhausted"}, "records": len(records),
                         "firstSequenceNumber": records[0]["dynamodb"]["SequenceNumber"]}))
                return
            time.sleep(POLL_PAUSE)

    def iterator(self, shard: str, after: str | None) -> str:
        # A fresh iterator on every poll: moto's iterators hold the shard object itself, and a
        # cancelled transaction restores its tables from copies, leaving old iterators reading
        # a shard nobody writes to any more.
        position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after} if after \
            else {"ShardIteratorType": "TRIM_HORIZON"}
        return self.streams.get_shard_iterator(StreamArn=self.arn, ShardId=shard, **position)["ShardIterator"]

    def run(self):
        description = self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]
        last: dict[str, str | None] = {shard["ShardId"]: None for shard in description["Shards"]}
        while not self.stopped.is_set():
            busy = False
            for shard, after in last.items():
                result = self.streams.get_records(ShardIterator=self.iterator(shard, after), Limit=100)
                raw = result.get("Records", [])
                if raw:
                    last[shard] = raw[-1]["dynamodb"]["SequenceNumber"]
                # The mapping's filter: only inserts (new events) reach the publisher.
                records = [self.record(r) for r in raw if r["eventName"] == "INSERT"]
                if records:
                    busy = True
                    self.deliver(records)
            if not busy:
                time.sleep(POLL_PAUSE)


def redrive(emulation, dead_letter_queue: str, source_queue: str) -> list[str]:
    """Moves every message of a dead-letter queue back to its source queue (what SQS's
    StartMessageMoveTask does in AWS; moto does not implement it). Answers the bodies moved."""
    sqs = emulation.client("sqs")
    dlq, source = emulation.physical[dead_letter_queue], emulation.physical[source_queue]
    moved = []
    while True:
        messages = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=30,
                                       WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return moved
        for message in messages:
            sqs.send_message(QueueUrl=source, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
            moved.append(message["Body"])
