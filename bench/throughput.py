"""Benchmark: the sustained rate of message events the bot stores with zero loss.

Starts the real bot (SQLite by default, or a fresh PostgreSQL database with --db postgres)
against the fake Slack, declares --incidents incidents, then sends message events into their
channels open-loop (at a fixed rate, whatever the answers do, as Slack does) from the load
generator process, in steps of --seconds at rising rates. A step passes when every event was
answered 200 with ack p99 ≤ 100 ms and every one of them is in the bot's database afterwards.
The first failing step ends the run; the figure is the last rate that passed.

Run: .venv/bin/python bench/throughput.py [--db sqlite|postgres] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from contextlib import AsyncExitStack

from harness import (
    CHANNEL,
    USER,
    Recorder,
    fresh_postgres,
    load_generator,
    machine,
    pct,
    quiet,
    running_bot,
    stored_messages,
)

RATES = (100, 200, 300, 400, 500, 600, 800, 1000, 1200, 1500, 2000, 2500, 3000)
P99_LIMIT_MS, TARGET = 100.0, 500


async def main(db: str, seconds: float, incidents: int) -> int:
    rows: list[tuple[int, float, float, float, int, int]] = []
    async with AsyncExitStack() as stack:
        url = await stack.enter_async_context(fresh_postgres()) if db == "postgres" else None
        bot = await stack.enter_async_context(running_bot(url))
        load = await stack.enter_async_context(load_generator())
        fake = bot.fake
        for i in range(incidents):
            await bot.slack.command(f"declare sev2 Throughput {i}", user=USER, channel=CHANNEL)
        await quiet(fake)
        channels = [c.id for c in fake.channels.values() if c.name.startswith("incident-")]
        talkers = [f"UT{i:03d}" for i in range(50)]
        for t in talkers:
            fake.add_user(t, t.lower())
        rec = Recorder(fake)
        n = 0
        for rate in RATES:
            count = int(rate * seconds)
            for _ in range(count):
                await rec.say(channels[n % len(channels)], talkers[n % len(talkers)],
                              f"Event {n}: error rate on shard {n % 32} is {n % 7}%")
                n += 1
            before = await stored_messages(bot.database_url)
            result = await load({"url": f"{bot.url}/slack/events", "secret": bot.secret,
                                 "mode": "open", "rate": rate, "requests": rec.take()})
            await asyncio.sleep(0.2)
            stored = await stored_messages(bot.database_url) - before
            ok = sum(1 for s in result["statuses"] if s == 200)
            lat = result["latencies_ms"]
            achieved = count / result["send_seconds"] if result["send_seconds"] else rate
            rows.append((rate, achieved, pct(lat, 0.5), pct(lat, 0.99), ok, stored))
            print(f"{rate:5}/s (sent at {achieved:6.0f}/s): ack p50 {pct(lat, 0.5):6.1f} ms, "
                  f"p99 {pct(lat, 0.99):7.1f} ms; {ok}/{count} answered 200, {stored} stored",
                  file=sys.stderr)
            if pct(lat, 0.99) > P99_LIMIT_MS or ok < count or stored < count:
                break
            await quiet(fake, still=0.2)

    print(machine())
    print(f"database: {db}; {incidents} incident channels; steps of {seconds:g} s, open loop")
    print("offered/s  sent/s   ack p50   ack p99   answered   stored")
    for rate, achieved, p50, p99, ok, stored in rows:
        print(f"{rate:9} {achieved:7.0f} {p50:8.1f} ms {p99:7.1f} ms {ok:9} {stored:8}")
    passed = [r for r in rows if r[3] <= P99_LIMIT_MS and r[4] == r[5] == int(r[0] * seconds)]
    best = passed[-1][0] if passed else 0
    stopped = rows[-1]
    why = ("p99 over 100 ms" if stopped[3] > P99_LIMIT_MS else
           "events lost" if stopped[5] < int(stopped[0] * seconds) else "the last rate tried")
    target = f" (target ≥ {TARGET}/s on SQLite)" if db == "sqlite" else ""
    print(f"summary: {db}: {best} message events/s sustained with zero loss and ack p99 ≤ "
          f"{P99_LIMIT_MS:.0f} ms{target}; stopped at {stopped[0]}/s by {why}")
    return 0 if db != "sqlite" or best >= TARGET else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each step")
    parser.add_argument("--incidents", type=int, default=20)
    args = parser.parse_args()
    try:
        sys.exit(asyncio.run(main(args.db, args.seconds, args.incidents)))
    except KeyboardInterrupt:
        sys.exit(130)
