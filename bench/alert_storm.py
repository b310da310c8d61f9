"""Benchmark: an alert storm through the real Prometheus Alertmanager, with the bot killed
(SIGKILL) in the middle of it and restarted on the same address.

500 alerts in 20 groups (alertname) are posted to Alertmanager over 10 s; Alertmanager sends
its grouped webhook notifications to the bot through a timing proxy. Reports the webhook
answer times (2xx only: while the bot is down the proxy answers 502 and Alertmanager
retries), the incidents created, duplicates (must be 0) and notifications left
unprocessed (must be 0).

Run: .venv/bin/python bench/alert_storm.py [--alerts 500] [--groups 20] [--seconds 10]
     [--kill-at 5 | --no-kill]   (needs prometheus-alertmanager: apt-get install it)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from harness import machine, pct

from bot.testing.alertmanager import alertmanager_binary
from bot.testing.storm import run_storm


async def main(alerts: int, groups: int, seconds: float, kill_at: float | None) -> int:
    if alertmanager_binary() is None:
        sys.exit("bench: prometheus-alertmanager is not installed "
                 "(apt-get install prometheus-alertmanager)")
    with tempfile.TemporaryDirectory() as tmp:
        r = await run_storm(Path(tmp), alerts=alerts, groups=groups, seconds=seconds,
                            kill_at=kill_at)
    print(machine())
    acks = r.acks_ms or [0.0]
    print(f"{r.alerts} alerts in {r.groups} groups over {seconds:g} s through Alertmanager"
          + (f", bot killed (SIGKILL) at {r.killed_at:.1f} s and restarted"
             if r.killed_at is not None else ""))
    print(f"webhook answers (2xx): {len(r.acks_ms)}; p50 {pct(acks, 0.5):.1f} ms, "
          f"p99 {pct(acks, 0.99):.1f} ms, max {max(acks):.1f} ms; "
          f"refused while down or not stored (retried by Alertmanager): {r.refused}")
    print(f"incidents created: {r.incidents} (groups with an incident: "
          f"{r.groups_with_incident}); duplicates: {r.duplicates}; notifications "
          f"unprocessed: {r.unprocessed}; settled after {r.settled_after:.1f} s")
    ok = (r.incidents == groups and r.duplicates == 0 and r.unprocessed == 0
          and max(acks) < 1000)
    print("summary: " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--alerts", type=int, default=500)
    p.add_argument("--groups", type=int, default=20)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--kill-at", type=float, default=5.0)
    p.add_argument("--no-kill", action="store_true")
    a = p.parse_args()
    sys.exit(asyncio.run(main(a.alerts, a.groups, a.seconds, None if a.no_kill else a.kill_at)))
