"""moto's server, answering one request at a time, with transactions that cost what they touch.

DynamoDB makes each conditional write atomic: the condition is checked and the write applied
as one step. moto's own `moto_server` serves requests on threads with no locking in its
DynamoDB backend, so two concurrent `UpdateItem ... ConditionExpression stock >= :q` calls
can both pass their checks and oversell; our contract suite caught exactly that (21 of 50
concurrent SUBTRACTs "succeeded" against 20 units). Serving requests one at a time restores
DynamoDB's atomicity per request, while the clients under test stay fully concurrent.

moto's TransactWriteItems deep-copies every table it touches before it starts, so that it
can put the copies back if the transaction is cancelled. Our transactions touch the audit and
outbox tables, which only grow, so each one cost more than the last: by the end of the
emulated suite a login (one transaction) took 68 s, and with one request at a time everyone
waited behind it. `transact_write_items` below checks every condition first and writes only
when all hold, keeping a copy of just the items it writes (and the stream's length) for the
rare write that fails half way. What callers see, answers and errors, is moto's.

Usage: moto_serial.py HOST PORT
"""

import copy
import os
import signal
import sys
from pathlib import Path

from iam_calls import Recorder
from moto.core import DEFAULT_ACCOUNT_ID

from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.comparisons import get_filter_expression
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

WRITES = {"Put", "Delete", "Update"}


def operation(item: dict) -> tuple[str, dict]:
    op_type, op = next(iter(item.items()))
    if op_type not in WRITES | {"ConditionCheck"}:
        raise ValueError("Unsupported transaction operation")
    return op_type, op


def item_key(backend: DynamoDBBackend, op_type: str, op: dict) -> dict:
    if op_type != "Put":
        return op["Key"]
    table, attrs = backend.get_table(op["TableName"]), op["Item"]
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def check(backend: DynamoDBBackend, transact_items: list[dict]) -> list[tuple]:
    """Every operation's condition against the items as they are, writing nothing: one
    (code, message, item) per operation, as moto reports them; (None, None, None) if it holds."""
    seen: set[tuple[str, str]] = set()
    outcomes = []
    for item in transact_items:
        if len(item) > 1:
            raise TransactWriteSingleOpException
        original = None
        try:
            op_type, op = operation(item)
            key = item_key(backend, op_type, op)
            target = (str(op["TableName"]), str(dict(sorted(key.items()))))
            if target in seen:
                raise MultipleTransactionsException()
            seen.add(target)
            current = backend.get_item(op["TableName"], key)
            if op.get("ConditionExpression") is not None:
                condition = get_filter_expression(
                    op["ConditionExpression"], op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues"))
                if not condition.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original)
            outcomes.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            raise
        except ConditionalCheckFailed as error:
            outcomes.append(("ConditionalCheckFailed", str(error.message), original))
        except Exception as error:  # noqa: BLE001 - moto reports any other failure per item
            outcomes.append((type(error).__name__, str(error), original))
    return outcomes


class Undo:
    """The items a transaction writes, as they were, and each stream's length before it."""

    def __init__(self):
        self.items: list[tuple] = []
        self.streams: dict[int, tuple] = {}

    def keep(self, table, key: dict):
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        before = table.get_item(hash_value, range_value)
        self.items.append((table, hash_value, range_value, copy.deepcopy(before)))
        if table.stream_shard is not None:
            self.streams.setdefault(id(table.stream_shard), (table.stream_shard, len(table.stream_shard.items)))

    def restore(self):
        for table, hash_value, range_value, before in reversed(self.items):
            bucket, slot = (table.items[hash_value], range_value) if range_value else (table.items, hash_value)
            if before is None:
                bucket.pop(slot, None)
            else:
                bucket[slot] = before
        for shard, length in self.streams.values():
            del shard.items[length:]


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict]) -> None:
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    outcomes = check(self, transact_items)
    if any(code is not None for code, _, _ in outcomes):
        raise TransactionCanceledException(outcomes)
    undo = Undo()
    for index, item in enumerate(transact_items):
        op_type, op = operation(item)
        if op_type == "ConditionCheck":
            continue
        table_name, key = op["TableName"], item_key(self, op_type, op)
        undo.keep(self.get_table(table_name), key)
        expression = dict(condition_expression=op.get("ConditionExpression"),
                          expression_attribute_names=op.get("ExpressionAttributeNames"),
                          expression_attribute_values=op.get("ExpressionAttributeValues"))
        try:
            if op_type == "Put":
                self.put_item(table_name, op["Item"], **expression)
            elif op_type == "Delete":
                self.delete_item(table_name, key, **expression)
            else:
                self.update_item(table_name, key, update_expression=op["UpdateExpression"], **expression)
        except MockValidationException:
            undo.restore()
            raise
        except Exception as error:  # noqa: BLE001 - cancelled as moto would, nothing written
            undo.restore()
            failed = [(None, None, None)] * len(transact_items)
            failed[index] = (type(error).__name__, str(error), None)
            raise TransactionCanceledException(failed) from error


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    DynamoDBBackend.transact_write_items = transact_write_items
    app = DomainDispatcherApplication(create_backend_app)
    # The emulated suite holds each function's calls against its IAM policy (iam_calls.py).
    if os.environ.get("MILKRUN_MOTO_CALLS"):
        app = Recorder(app, Path(os.environ["MILKRUN_MOTO_CALLS"]), DEFAULT_ACCOUNT_ID)
    run_simple(host, port, app, threaded=False, use_reloader=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
