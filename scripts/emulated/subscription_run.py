"""The nightly subscription run on emulated AWS, through the scheduler's target: the run
Lambda is invoked with the event EventBridge Scheduler sends (its Input, naming the date),
fans out one message per run shard to SubscriptionRunQueue, and the queue's poller feeds the
pages to the same Lambda, which places the orders through Step Functions. Invoked twice, it
places each (subscription, date) once."""

from __future__ import annotations

import datetime
import json
import sys
import time
from pathlib import Path

from differential import Host

ROOT = Path(__file__).resolve().parents[2]


def orders_of(host: Host, token: str, subscription: str) -> list[dict]:
    items = host.ok("GET", "/orders?limit=100", token=token)["items"]
    return [o for o in items if o.get("subscriptionId") == subscription]


def run(base_url: str, admin: tuple[str, str], invoke) -> int:
    host = Host("emulated", base_url, admin)
    world = host.world(stock=50)
    ist = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=5, minutes=30)
    date = (ist.date() + datetime.timedelta(days=3)).isoformat()
    made = host.ok("POST", "/subscriptions", {
        "productId": world["product"], "variantId": world["variants"][0], "quantity": 2, "frequency": "DAILY",
        "startDate": date, "deliverySlot": "MORNING", "addressLabel": "home", "paymentMethod": "COD"},
        world["customer"])
    subscription = made["subscriptionId"]
    event = ROOT / "target" / "scheduled-subscription-run.json"
    event.write_text(json.dumps({"date": date}))
    for attempt in range(2):
        started = invoke(str(event))
        print(f"subscription run (start {attempt + 1}): {started}", flush=True)
        deadline = time.time() + 180
        orders = []
        while time.time() < deadline:
            orders = orders_of(host, world["customer"], subscription)
            if orders and all(o["status"] == "PREPARING" for o in orders):
                break
            time.sleep(1)
        if len(orders) != 1 or orders[0]["status"] != "PREPARING" or orders[0]["deliveryDate"] != date:
            print(f"the scheduled run did not place exactly one order: {orders}", file=sys.stderr, flush=True)
            return 1
    time.sleep(5)  # the second start's pages had time to place a second order, were it possible
    orders = orders_of(host, world["customer"], subscription)
    if len(orders) != 1:
        print(f"the repeated run placed a second order: {orders}", file=sys.stderr, flush=True)
        return 1
    print("subscription run: one order per (subscription, date) through the scheduler's target, twice", flush=True)
    return 0
