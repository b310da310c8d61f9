"""Benchmark: `/incident declare` ack time, Slack calls per declare, and the card's critical path.

Starts the real bot (`python -m bot`, HTTP mode, a fresh SQLite file) in a subprocess against
the fake Slack served from this process, and sends signed slash commands over HTTP.

1. Ack time of 100 declares, one after another (each waits for its card to be pinned).
2. With the fake Slack adding --latency (default 100 ms) to every call: the Slack calls one
   declare makes, how many are sequential before the card is visible, and the time from the
   slash command to the card.

Run: .venv/bin/python bench/declare.py [--declares 100] [--latency 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

from harness import CHANNEL, USER, machine, pct, running_bot, wait_for_calls

from bot.testing.fake_slack import Call


def depth(calls: list[Call], target: Call) -> int:
    """Length of the longest chain of calls, each starting after the previous ended,
    that ends with `target`: the sequential Slack round trips on its path."""
    memo: dict[int, int] = {}

    def d(c: Call) -> int:
        key = id(c)
        if key not in memo:
            # only answered calls (ended is 0 while one is still in flight)
            before = [p for p in calls if p is not c and 0 < p.ended <= c.started]
            memo[key] = 1 + max((d(p) for p in before), default=0)
        return memo[key]

    return d(target)


async def main(declares: int, latency: float) -> None:
    async with running_bot() as bot:
        fake, slack = bot.fake, bot.slack
        acks: list[float] = []
        for i in range(declares):
            t0 = time.perf_counter()
            reply = await slack.command(f"declare sev2 Bench incident {i}", user=USER,
                                        channel=CHANNEL)
            acks.append((time.perf_counter() - t0) * 1000)
            assert reply.status == 200 and "Declaring" in reply.text, reply.body
            await wait_for_calls(fake, "pins.add", i + 1)

        fake.delay("*", latency)
        paths: list[tuple[int, int, float, float]] = []
        for j in range(5):
            first = len(fake.calls)
            sent = time.monotonic()
            await slack.command(f"declare sev2 Latency incident {j}", user=USER, channel=CHANNEL)
            await wait_for_calls(fake, "pins.add", declares + j + 1)
            await asyncio.sleep(latency * 2)  # let any trailing call finish
            calls = [c for c in fake.calls[first:] if c.method != "auth.test"]
            card = next(c for c in calls if c.method == "chat.postMessage" and c.args.get("blocks"))
            paths.append((len(calls), depth(calls, card), (card.ended - sent) * 1000,
                          (max(c.ended for c in calls) - sent) * 1000))
        methods = sorted(c.method for c in fake.calls[first:] if c.method != "auth.test")

    print(machine())
    print(f"declare ack over {declares} declares (ms): median {statistics.median(acks):.1f}, "
          f"p90 {pct(acks, 0.9):.1f}, p99 {pct(acks, 0.99):.1f}, max {max(acks):.1f}")
    calls_per, seq = paths[-1][0], max(p[1] for p in paths)
    visible = statistics.median(p[2] for p in paths)
    complete = statistics.median(p[3] for p in paths)
    per_call = f"{latency * 1000:.0f} ms"
    print(f"Slack calls per declare: {calls_per} ({', '.join(methods)})")
    print(f"with {per_call} per Slack call: {seq} sequential calls before the card is visible; "
          f"card visible after {visible:.0f} ms (median of {len(paths)}), declare complete "
          f"after {complete:.0f} ms")
    print(f"summary: declare ack median {statistics.median(acks):.1f} ms, max {max(acks):.1f} ms;"
          f" {calls_per} Slack calls, {seq} sequential before the card "
          f"({visible:.0f} ms at {per_call}/call)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--declares", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds added per Slack call")
    args = parser.parse_args()
    try:
        asyncio.run(main(args.declares, args.latency))
    except KeyboardInterrupt:
        sys.exit(130)
