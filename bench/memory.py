"""Benchmark: the bot's resident memory idle, and after 1,000 incidents with 100 messages each.

Starts the real bot (`python -m bot`, HTTP mode, SQLite) against the fake Slack and reads its
RSS from the operating system: once started and idle, then after --incidents declares and
--messages message events in each incident's channel (all sent as signed requests by the load
generator process, 20 at a time), once the bot has gone quiet again.

Run: .venv/bin/python bench/memory.py [--incidents 1000] [--messages 100]
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from harness import (
    CHANNEL,
    USER,
    Recorder,
    load_generator,
    machine,
    quiet,
    rss_mb,
    running_bot,
    stored_messages,
)

IDLE_TARGET_MB = 150


async def main(incidents: int, messages: int) -> int:
    async with running_bot() as bot, load_generator() as load:
        fake = bot.fake
        await asyncio.sleep(2)
        idle = rss_mb(bot.pid)
        rec = Recorder(fake)

        async def send(requests: list[dict[str, str]]) -> None:
            result = await load({"url": f"{bot.url}/slack/events", "secret": bot.secret,
                                 "mode": "closed", "senders": 20, "requests": requests})
            bad = [s for s in result["statuses"] if s != 200]
            if bad:
                sys.exit(f"bench: the bot answered {len(bad)} requests with {bad[0]}")

        for i in range(incidents):
            await rec.command(f"declare sev{2 + i % 2} Memory incident {i}", user=USER,
                              channel=CHANNEL)
        await send(rec.take())
        await quiet(fake, still=1.0)
        after_declares = rss_mb(bot.pid)
        channels = [c.id for c in fake.channels.values() if c.name.startswith("incident-")]
        for start in range(0, len(channels), 100):  # 10,000 events at a time
            for ch in channels[start:start + 100]:
                for j in range(messages):
                    await rec.say(ch, USER, f"Update {j}: still looking at the load balancer "
                                            f"logs for {ch}")
            await send(rec.take())
        await quiet(fake, still=1.0)
        loaded = rss_mb(bot.pid)
        stored = await stored_messages(bot.database_url)

    print(machine())
    print(f"RSS idle after start: {idle:.0f} MiB (target < {IDLE_TARGET_MB} MiB)")
    print(f"RSS after {incidents} declares: {after_declares:.0f} MiB")
    print(f"RSS after {incidents} incidents × {messages} messages ({stored} stored): "
          f"{loaded:.0f} MiB")
    print(f"summary: RSS idle {idle:.0f} MiB (target < {IDLE_TARGET_MB}), {loaded:.0f} MiB with "
          f"{incidents} incidents and {stored} messages")
    return 0 if idle < IDLE_TARGET_MB and stored == incidents * messages else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=100)
    args = parser.parse_args()
    try:
        sys.exit(asyncio.run(main(args.incidents, args.messages)))
    except KeyboardInterrupt:
        sys.exit(130)
