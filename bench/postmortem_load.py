"""Benchmark: acks while a big incident's postmortem draft and stats are being built.

Starts the real bot against the fake Slack, declares an incident and gives it --entries
timeline entries (written straight into its SQLite database, as 20,000 messages would have
left them), then sends a steady stream of signed message events (--rate a second, into a
second incident's channel) for a baseline, and again while `/incident postmortem` (the
20,000-entry draft) and `/incident stats` are built, --builds times over. Prints the acks'
p50/p99/max in both phases. Target: p99 under 50 ms while building (#24 item 8).

Run: .venv/bin/python bench/postmortem_load.py [--entries 20000] [--builds 3] [--rate 50]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from harness import (
    USER,
    Recorder,
    load_generator,
    machine,
    pct,
    running_bot,
    wait_for_calls,
)

TARGET_P99_MS = 50.0


def _fill(database_url: str, incident_id: int, entries: int) -> None:
    path = database_url.split(":///", 1)[1]
    db = sqlite3.connect(path, timeout=30)
    start = datetime.now(UTC) - timedelta(hours=6)
    rows = [(incident_id, "message", (start + timedelta(seconds=i)).replace(tzinfo=None)
             .isoformat(sep=" "), "UTALK", f"Message {i}: checking shard {i % 64} and "
             f"the replica lag on db-{i % 8}", "{}", f"{1700000000 + i}.000100")
            for i in range(entries)]
    db.executemany("INSERT INTO timeline_entries (incident_id, kind, occurred_at, actor, "
                   "text, data, slack_ts) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    db.close()


async def main(entries: int, builds: int, rate: int) -> int:
    async with running_bot() as bot, load_generator() as load:
        fake, slack = bot.fake, bot.slack
        await slack.command("declare sev1 Twenty thousand entries", user=USER,
                            channel="C0BENCH")
        await slack.command("declare sev3 Quiet one", user=USER, channel="C0BENCH")
        await wait_for_calls(fake, "pins.add", 2)
        big = next(c for c in fake.channels.values() if c.name.endswith("entries"))
        quiet = next(c for c in fake.channels.values() if c.name.endswith("quiet-one"))
        fake.add_user("UTALK", "talker")
        _fill(bot.database_url, 1, entries)

        rec = Recorder(fake)

        async def probe(seconds: float) -> list[float]:
            """Message events at `rate` a second for `seconds`, sent and timed by the load
            generator's own process (never this one's event loop, which the fake Slack
            shares); each ack's time in milliseconds."""
            for i in range(int(rate * seconds)):
                await rec.say(quiet.id, "UTALK", f"probe {i}")
            result = await load({"url": f"{bot.url}/slack/events", "secret": bot.secret,
                                 "mode": "open", "rate": rate, "requests": rec.take()})
            assert set(result["statuses"]) == {200}, result["statuses"]
            return list(result["latencies_ms"])

        base = await probe(3.0)
        uploads = len(fake.calls_to("files.completeUploadExternal"))
        probing = asyncio.create_task(probe(builds * 1.0 + 1.0))
        await asyncio.sleep(0.3)
        started = time.monotonic()
        for _ in range(builds):
            await slack.command("postmortem", user=USER, channel=big.id)
            await slack.command("stats 90d", user=USER, channel=big.id)
        await wait_for_calls(fake, "files.completeUploadExternal", uploads + builds)
        took = time.monotonic() - started
        loaded = await probing
    print(machine())
    print(f"an incident of {entries} timeline entries; {builds} postmortem drafts and stats "
          f"built in {took:.1f} s")
    print(f"acks before: p50 {statistics.median(base):.1f} ms, p99 {pct(base, 0.99):.1f} ms, "
          f"max {max(base):.1f} ms ({len(base)} events)")
    print(f"acks while building: p50 {statistics.median(loaded):.1f} ms, p99 "
          f"{pct(loaded, 0.99):.1f} ms, max {max(loaded):.1f} ms ({len(loaded)} events)")
    ok = pct(loaded, 0.99) < TARGET_P99_MS
    print(f"summary: ack p99 {pct(loaded, 0.99):.1f} ms while {entries}-entry postmortems "
          f"were built (target < {TARGET_P99_MS:.0f} ms): {'met' if ok else 'missed'}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--builds", type=int, default=3)
    parser.add_argument("--rate", type=int, default=50)
    args = parser.parse_args()
    try:
        sys.exit(asyncio.run(main(args.entries, args.builds, args.rate)))
    except KeyboardInterrupt:
        sys.exit(130)
