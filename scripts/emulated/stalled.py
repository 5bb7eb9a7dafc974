"""A checkout that never started is started again by the scheduled resume-checkouts Lambda.

With the checkout state machine gone, `POST /orders` commits the order but its
StartExecution fails: the order stays PENDING, as it would if the order function died
between the two. With the state machine back (same name, same ARN), one run of the
resume-checkouts function (its idle threshold set to 0 s instead of the six minutes an
Express execution cannot outlast) starts the order's checkout again, and moto's Step
Functions takes it, on the real checkout-task binary, to PREPARING.

Run by `run.py e2e` after the differential test (which must not meet the machine missing).
"""

from __future__ import annotations

import time

from differential import Host


def run(emulation, base_url: str, admin: tuple[str, str], resume) -> int:
    sfn = emulation.client("stepfunctions")
    machine = emulation.physical["CheckoutStateMachine"]
    host = Host("emulated AWS", base_url, admin)
    world = host.world(stock=5)
    described = sfn.describe_state_machine(stateMachineArn=machine)
    sfn.delete_state_machine(stateMachineArn=machine)
    try:
        order_id = host.order(world, [(0, 2)])
        time.sleep(3)
        order = host.ok("GET", f"/orders/{order_id}", token=world["customer"])
        assert order["status"] == "PENDING", f"with no state machine the order stays PENDING: {order['status']}"
    finally:
        recreated = sfn.create_state_machine(name=described["name"], definition=described["definition"],
                                             roleArn=described["roleArn"], type=described["type"])
    assert recreated["stateMachineArn"] == machine, recreated
    report = resume()
    print(f"resume-checkouts: {report}", flush=True)
    assert report["failed"] == 0 and report["resumed"] >= 1, report
    deadline = time.time() + 120
    while True:
        order = host.ok("GET", f"/orders/{order_id}", token=world["customer"])
        if order["status"] not in ("PENDING", "PAYMENT_PENDING", "CONFIRMED") or time.time() > deadline:
            break
        time.sleep(0.5)
    statuses = [change["status"] for change in order["statusHistory"]]
    ok = order["status"] == "PREPARING" and statuses == ["PENDING", "PAYMENT_PENDING", "CONFIRMED", "PREPARING"]
    print(f"stalled checkout: {order_id} {'resumed' if ok else 'NOT resumed'} → {' '.join(statuses)}", flush=True)
    return 0 if ok else 1
