"""moto_serial.py's TransactWriteItems keeps moto's answers: all written, or nothing written
(items and stream records), with the cancellation reasons moto gives.

Usage: test_moto_serial.py   (starts its own moto_serial on a free port)
"""

import contextlib
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(env: dict[str, str] | None = None):
    """A moto_serial on a free port (with `env`, if given), its endpoint, stopped after."""
    port = free_port()
    server = subprocess.Popen([sys.executable, str(HERE / "moto_serial.py"), "127.0.0.1", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield wait_for(server, port)
    finally:
        server.terminate()
        server.wait(timeout=10)


def wait_for(server: subprocess.Popen, port: int) -> str:
    """The endpoint of a moto_serial started on `port`, once it listens."""
    deadline = time.time() + 30
    while time.time() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return f"http://127.0.0.1:{port}"
        time.sleep(0.2)
    server.kill()
    raise SystemExit("moto_serial did not start")


def put(table: str, pk: str, **attributes) -> dict:
    return {"Put": {"TableName": table, "Item": {"pk": {"S": pk}, "sk": {"S": "x"}, **attributes}}}


def key(pk: str) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": "x"}}


def main() -> int:
    with serving() as endpoint:
        clients = dict(endpoint_url=endpoint, region_name="ap-south-1", aws_access_key_id="t", aws_secret_access_key="t")
        db, streams = boto3.client("dynamodb", **clients), boto3.client("dynamodbstreams", **clients)
        for table in ("a", "b"):
            db.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
                            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        arn = db.describe_table(TableName="a")["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]

        def stream_records() -> int:
            iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            return len(streams.get_records(ShardIterator=iterator, Limit=1000)["Records"])

        def cancelled(items: list[dict]) -> list[dict]:
            try:
                db.transact_write_items(TransactItems=items)
            except db.exceptions.TransactionCanceledException as error:
                return error.response["CancellationReasons"]
            raise AssertionError("the transaction was not cancelled")

        db.transact_write_items(TransactItems=[put("a", "k0", v={"S": "old"}), put("b", "e0")])
        assert db.get_item(TableName="b", Key=key("e0"))["Item"]["pk"]["S"] == "e0", "a transaction writes every item"
        assert stream_records() == 1

        # One condition fails: nothing written, each item's reason in order.
        reasons = cancelled([put("a", "new1"), {**put("b", "e0"), "Put": {**put("b", "e0")["Put"], "ConditionExpression": "attribute_not_exists(pk)"}}])
        assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed"], reasons
        assert "Item" not in db.get_item(TableName="a", Key=key("new1")) and stream_records() == 1

        # A condition check asking for the item back gets it.
        reasons = cancelled([{"ConditionCheck": {"TableName": "a", "Key": key("k0"), "ConditionExpression": "v = :x",
                                                 "ExpressionAttributeValues": {":x": {"S": "other"}},
                                                 "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}])
        assert reasons[0]["Code"] == "ConditionalCheckFailed" and reasons[0]["Item"]["v"] == {"S": "old"}, reasons

        # The last write fails after two were applied (ADD on a key attribute): both undone,
        # their stream records too; the first changed its item in place.
        try:
            db.transact_write_items(TransactItems=[{"Update": {"TableName": "a", "Key": key("k0"), "UpdateExpression": "SET v = :new",
                                                               "ExpressionAttributeValues": {":new": {"S": "new"}}}},
                                                   put("a", "new2"),
                                                   {"Update": {"TableName": "b", "Key": key("e0"), "UpdateExpression": "ADD sk :n",
                                                               "ExpressionAttributeValues": {":n": {"N": "1"}}}}])
            raise AssertionError("a write that cannot be applied was accepted")
        except db.exceptions.ClientError as error:
            assert error.response["Error"]["Code"] == "ValidationException", error.response
        assert db.get_item(TableName="a", Key=key("k0"))["Item"]["v"] == {"S": "old"}, "the overwritten item is back"
        assert "Item" not in db.get_item(TableName="a", Key=key("new2")), "the new item is gone"
        assert stream_records() == 1, "no stream record of an undone write"

        # One item twice in a transaction is refused outright.
        try:
            db.transact_write_items(TransactItems=[put("a", "dup"), put("a", "dup")])
            raise AssertionError("one item written twice in a transaction was accepted")
        except db.exceptions.ClientError as error:
            assert error.response["Error"]["Code"] == "ValidationException", error.response
        assert "Item" not in db.get_item(TableName="a", Key=key("dup"))
        print("moto_serial: transactions all-or-nothing, with moto's reasons")
        return 0


if __name__ == "__main__":
    sys.exit(main())
