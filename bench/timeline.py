"""Benchmark: a 10,000-message incident: `/incident timeline` and the postmortem draft.

Starts the real bot against the fake Slack, declares an incident, and feeds it --messages
signed message events over HTTP (--senders at once), every 100th one a thread reply and
every 500th one pinned with a 📌. Then it measures:

- `/incident timeline`: the ack time (the answer is in the ack) and its size against Slack's
  limits (at most 50 blocks, 3,000 characters a section);
- `/incident postmortem`: the time from the slash command until the draft is built (the
  upload starts), and until it is uploaded.

Run: .venv/bin/python bench/timeline.py [--messages 10000] [--senders 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

from harness import USER, machine, pct, running_bot, wait_for_calls

SECTION_LIMIT, BLOCK_LIMIT = 3000, 50


async def main(messages: int, senders: int) -> None:
    async with running_bot() as bot:
        fake, slack = bot.fake, bot.slack
        await slack.command("declare sev1 Ten thousand messages", user=USER, channel="C0BENCH")
        await wait_for_calls(fake, "pins.add", 1)
        channel = next(c for c in fake.channels.values() if c.name.startswith("incident-"))
        fake.add_user("UTALK", "talker")

        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(messages):
            queue.put_nowait(i)
        acks: list[float] = []
        parent_ts = ""

        async def sender() -> None:
            nonlocal parent_ts
            while not queue.empty():
                i = queue.get_nowait()
                thread = parent_ts if i % 100 == 99 and parent_ts else None
                t0 = time.perf_counter()
                msg, reply = await slack.say(channel.id, "UTALK",
                                             f"Message {i}: checking shard {i % 64}",
                                             thread_ts=thread)
                acks.append((time.perf_counter() - t0) * 1000)
                assert reply.status == 200, reply.body
                if i % 100 == 0:
                    parent_ts = msg.ts
                if i % 500 == 0:
                    await slack.react(channel.id, msg.ts, USER)

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(senders)))
        ingest = time.perf_counter() - started

        timeline_ms = []
        for _ in range(5):
            t0 = time.perf_counter()
            reply = await slack.command("timeline", user=USER, channel=channel.id)
            timeline_ms.append((time.perf_counter() - t0) * 1000)
        body = reply.json()
        blocks = body["blocks"]
        longest = max(len(b["text"]["text"]) for b in blocks)
        head = blocks[0]["text"]["text"].splitlines()[1]

        t0 = time.monotonic()
        await slack.command("postmortem", user=USER, channel=channel.id)
        await wait_for_calls(fake, "files.completeUploadExternal", 1)
        built = (fake.calls_to("files.getUploadURLExternal")[0].started - t0) * 1000
        uploaded = (fake.calls_to("files.completeUploadExternal")[0].ended - t0) * 1000
        size = len(next(iter(fake.files.values()))["content"])

    print(machine())
    print(f"ingest: {messages} message events from {senders} senders in {ingest:.1f} s "
          f"({messages / ingest:.0f}/s); ack p50 {statistics.median(acks):.1f} ms, "
          f"p99 {pct(acks, 0.99):.1f} ms")
    print(f"/incident timeline: ack median {statistics.median(timeline_ms):.1f} ms, "
          f"max {max(timeline_ms):.1f} ms; {len(blocks)} blocks (limit {BLOCK_LIMIT}), "
          f"longest section {longest} chars (limit {SECTION_LIMIT}); \"{head}\"")
    print(f"/incident postmortem: built in {built:.0f} ms, uploaded after {uploaded:.0f} ms "
          f"({size / 1024:.0f} KiB of Markdown)")
    print(f"summary: {messages} messages: timeline answered in "
          f"{statistics.median(timeline_ms):.1f} ms within Slack's limits; postmortem built in "
          f"{built:.0f} ms (target < 2000 ms)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--senders", type=int, default=20)
    args = parser.parse_args()
    try:
        asyncio.run(main(args.messages, args.senders))
    except KeyboardInterrupt:
        sys.exit(130)
