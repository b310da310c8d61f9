"""Benchmark: reminder lateness with 10,000 open incidents, a burst of 1,000, idle CPU.

Builds a SQLite database with --open open incidents (each with its own channel in the fake
Slack and an update reminder an hour away), of which --timed have reminders falling due one
by one a minute after start and --burst fall due together after that. Then starts the real
bot (`python -m bot`) on it and measures, from the fake Slack's record of each reminder
message (it carries the reminder's id):

- lateness of the timed reminders (posted minus due): median, p99, max;
- the burst: from its due time until the last of them is posted;
- CPU used by the bot over 10 s while all incidents are open and none is due.

Run: .venv/bin/python bench/reminders.py [--open 10000] [--timed 500] [--burst 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from datetime import UTC, datetime, timedelta

from harness import cpu_seconds, machine, pct, running_bot, until
from sqlalchemy import select

from bot.store import reminder_rows, repo
from bot.store.db import Database
from bot.store.tables import ReminderRow
from bot.testing.fake_slack import BOT_USER_ID, FakeSlack

START_DELAY = 130.0  # seconds from set-up to the first timed reminder (after catch-up)
SPACING = 0.05  # seconds between timed reminders


async def prepare(url: str, fake: FakeSlack, n_open: int, timed: int, burst: int,
                  t0: datetime) -> dict[int, datetime]:
    """Create the incidents and reminders; return {reminder id: due time} of the measured."""
    db = Database(url)
    await db.migrate()
    due: dict[int, datetime] = {}
    async with db.write() as s:
        for i in range(n_open):
            ch = fake.add_channel(f"incident-bench-{i}", members={BOT_USER_ID})
            iid = await repo.insert_incident(
                s, title=f"Bench {i}", severity="SEV1", status="investigating",
                is_private=False, setup_done=True, channel_id=ch.id, declared_by="UBENCH",
                declared_at=t0, last_update_at=t0)
            if i < timed:
                at = t0 + timedelta(seconds=START_DELAY + i * SPACING)
            elif i < timed + burst:
                at = t0 + timedelta(seconds=START_DELAY + timed * SPACING + 10)
            else:
                at = t0 + timedelta(hours=1)
            await reminder_rows.add_reminder(s, iid, "update", at)
            due[iid] = at
    async with db.read() as s:
        rows = await s.execute(select(ReminderRow.id, ReminderRow.incident_id))
        by_reminder = {rid: due[iid] for rid, iid in rows if due[iid] < t0 + timedelta(hours=1)}
    await db.close()
    return by_reminder


def posted(fake: FakeSlack) -> dict[int, float]:
    """reminder id -> wall time the reminder message was posted."""
    out = {}
    for c in fake.calls_to("chat.postMessage"):
        meta = c.args.get("metadata") or {}
        rid = (meta.get("event_payload") or {}).get("reminder_id") if isinstance(meta, dict) \
            else None
        if rid is not None and c.status == 200:
            out[int(rid)] = c.at
    return out


async def main(n_open: int, timed: int, burst: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/reminders.db"
        fake = FakeSlack()
        t0 = datetime.now(UTC)
        print(f"preparing {n_open} open incidents...", flush=True)
        due = await prepare(url, fake, n_open, timed, burst, t0)
        setup = (datetime.now(UTC) - t0).total_seconds()
        timed_ids = sorted(due, key=lambda r: due[r])[:timed]
        burst_ids = [r for r in due if r not in set(timed_ids)]
        async with running_bot(url, fake=fake) as bot:
            # Wait for start-up's catch-up (a history call per open incident) to finish.
            await until(lambda: len(fake.calls_to("conversations.history")) >= n_open,
                        seconds=600, poll=0.2)
            catchup_done = (datetime.now(UTC) - t0).total_seconds()
            await asyncio.sleep(15)  # let the last of the catch-up's answers be stored
            idle_from = cpu_seconds(bot.pid)
            await asyncio.sleep(10)
            idle_cpu = cpu_seconds(bot.pid) - idle_from
            await until(lambda: len(posted(fake).keys() & due.keys()) >= len(due),
                        seconds=START_DELAY + timed * SPACING + 300, poll=0.5)
            sent = posted(fake)
    late = [(sent[r] - due[r].timestamp()) * 1000 for r in timed_ids]
    burst_due = due[burst_ids[0]].timestamp()
    burst_done = (max(sent[r] for r in burst_ids) - burst_due) * 1000
    counts = [c for c in fake.calls_to("chat.postMessage")
              if (c.args.get("metadata") or {}).get("event_type") == "foghorn_reminder"]
    print(machine())
    print(f"setup: {n_open} incidents in {setup:.1f} s; start-up catch-up done "
          f"{catchup_done - setup:.1f} s after the bot started")
    print(f"idle: {idle_cpu:.2f} s of CPU in 10 s ({idle_cpu * 10:.1f}%) with {n_open} open, "
          f"none due")
    print(f"lateness of {timed} reminders due one by one (ms): median "
          f"{statistics.median(late):.0f}, p99 {pct(late, 0.99):.0f}, max {max(late):.0f}")
    print(f"burst: {len(burst_ids)} due at once, all posted {burst_done:.0f} ms after their "
          f"due time; reminder messages posted {len(counts)} for {len(due)} due")
    print(f"summary: lateness median {statistics.median(late):.0f} ms, p99 "
          f"{pct(late, 0.99):.0f} ms with {n_open} open; {len(burst_ids)} due at once sent in "
          f"{burst_done / 1000:.1f} s; idle CPU {idle_cpu * 10:.1f}%")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=10_000, dest="n_open")
    parser.add_argument("--timed", type=int, default=500)
    parser.add_argument("--burst", type=int, default=1000)
    args = parser.parse_args()
    try:
        asyncio.run(main(args.n_open, args.timed, args.burst))
    except KeyboardInterrupt:
        sys.exit(130)
    except TimeoutError:
        sys.exit("bench: not every reminder was posted in time")
