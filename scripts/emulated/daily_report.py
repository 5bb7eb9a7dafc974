"""The daily report on emulated AWS, through its scheduler's target: DailyReportFunction is
invoked with the event EventBridge Scheduler sends (`{}`, yesterday in Asia/Kolkata) and with
a date named (as a hand invoke or a redriven start does), after the subscription run placed
an order for that date. The report it stored must be what GET /reports/daily answers, count
that order, and a second invoke must replace it (a new generatedAt), not add one."""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path

from differential import Host

ROOT = Path(__file__).resolve().parents[2]


def ist_today() -> datetime.date:
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=5, minutes=30)).date()


def run(base_url: str, admin: tuple[str, str], invoke) -> int:
    host = Host("emulated", base_url, admin)
    scheduled = ROOT / "target" / "scheduled-daily-report.json"
    scheduled.write_text("{}")
    yesterday = (ist_today() - datetime.timedelta(days=1)).isoformat()
    answer = invoke(str(scheduled))
    print(f"daily report (scheduler's event): {answer}", flush=True)
    if answer["date"] != yesterday:
        print(f"the scheduled report is not yesterday's ({yesterday})", file=sys.stderr, flush=True)
        return 1
    # The subscription run placed its order three days ahead: report that day, twice.
    date = (ist_today() + datetime.timedelta(days=3)).isoformat()
    named = ROOT / "target" / "daily-report-date.json"
    named.write_text(json.dumps({"date": date}))
    runs = [invoke(str(named)) for _ in range(2)]
    print(f"daily report of {date}: {runs}", flush=True)
    stored = host.ok("GET", f"/reports/daily?date={date}")
    ok = (runs[0]["totalOrders"] >= 1 and runs[0]["revenue"] > 0
          and stored["generatedAt"] == runs[1]["generatedAt"] != runs[0]["generatedAt"]
          and stored["totalOrders"] == runs[1]["totalOrders"] == runs[0]["totalOrders"]
          and stored["revenue"]["amount"] == runs[1]["revenue"]
          and sum(stored["ordersByStatus"].values()) == stored["totalOrders"])
    if not ok:
        print(f"the stored report does not match the runs: {stored}", file=sys.stderr, flush=True)
        return 1
    print("daily report: through the scheduler's target, stored, replaced by a rerun, read over HTTP", flush=True)
    return 0
