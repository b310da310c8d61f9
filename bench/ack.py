"""Benchmark: ack latency under load, against the framework floor and the machine floor.

Three servers get the same signed requests from a load generator in its own process:

- foghorn: the real bot (`python -m bot run`, HTTP mode, SQLite) against the fake Slack;
- bolt: a bare Bolt AsyncApp whose listeners only ack (the framework floor);
- aiohttp: an aiohttp handler answering 200 (the machine floor).

Five kinds of request, --requests of each (default 2,000) from --senders concurrent senders
(default 20), each sending its next request as soon as the last is answered: `/incident help`,
`/incident declare`, a click on a card's Take button, a message event in an incident
channel, and one in another channel Foghorn is in (`other`: not stored). Each kind is split
into --rounds rounds, and every round sends its requests to the
three servers in turn, starting with a different one each round, so drift on the machine is
shared out evenly. After the bot's round the benchmark waits until the bot's work after the ack
(Slack calls) is done, so the floors never share the CPU with it.

Prints p50/p90/p99/max per kind and server, the ratios, and checks that every message event
the bot acked is in its database. Writes a latency histogram (--png, needs matplotlib).

Run: .venv/bin/python bench/ack.py [--requests 2000] [--senders 20] [--rounds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from harness import (
    CHANNEL,
    USER,
    Recorder,
    floor_process,
    load_generator,
    machine,
    need,
    pct,
    quiet,
    running_bot,
    stored_messages,
)

from bot.slack import blocks
from bot.testing.fake_slack import FakeSlack

KINDS = ("help", "declare", "click", "message", "other")
SERVERS = ("foghorn", "bolt", "aiohttp")
SENDER_USERS = [f"UB{i:03d}" for i in range(20)]
P99_TARGET_MS, RATIO_TARGET = 50.0, 1.5


def incident_cards(fake: FakeSlack) -> list[tuple[str, str, list[str]]]:
    """(channel, card ts, the Take buttons' block ids) of every incident channel's card."""
    cards = []
    for ch in fake.channels.values():
        if not ch.name.startswith("incident-"):
            continue
        for msg in ch.messages:
            takes = [b["block_id"] for b in msg.blocks
                     if any(e.get("action_id") == blocks.ROLE_TAKE
                            for e in b.get("elements") or [])]
            if takes:
                cards.append((ch.id, msg.ts, takes))
                break
    return cards


async def build(kind: str, count: int, rec: Recorder, fake: FakeSlack) -> list[dict[str, str]]:
    """`count` requests of `kind`, as Slack would send them to the bot."""
    if kind == "help":
        for i in range(count):
            await rec.command("help", user=SENDER_USERS[i % 20], channel=CHANNEL)
    elif kind == "declare":
        for i in range(count):
            await rec.command(f"declare sev{2 + i % 2} Load test incident {i}",
                              user=SENDER_USERS[i % 20], channel=CHANNEL)
    elif kind == "click":
        cards = incident_cards(fake)
        for i in range(count):
            channel, ts, takes = cards[i % len(cards)]
            await rec.click(user=SENDER_USERS[i % 20], channel=channel, message_ts=ts,
                            action_id=blocks.ROLE_TAKE, block_id=takes[(i // len(cards)) %
                                                                        len(takes)])
    elif kind == "other":  # a channel Foghorn is in that is not an incident's
        for i in range(count):
            await rec.say(CHANNEL, SENDER_USERS[i % 20], f"Lunch at {i % 12 + 1}?")
    else:
        cards = incident_cards(fake)
        for i in range(count):
            channel = cards[i % len(cards)][0]
            await rec.say(channel, SENDER_USERS[i % 20],
                          f"Message {i}: p99 on shard {i % 64} is back under 200 ms")
    return rec.take()


def summarise(values: list[float]) -> str:
    return (f"p50 {pct(values, 0.5):6.1f}  p90 {pct(values, 0.9):6.1f}  "
            f"p99 {pct(values, 0.99):6.1f}  max {max(values):7.1f}")


def histogram(latencies: dict[tuple[str, str], list[float]], kinds: tuple[str, ...],
              path: Path, title: str) -> None:
    matplotlib = need("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(len(kinds), 1, figsize=(9, 2.4 * len(kinds)), sharex=True,
                             squeeze=False)
    everything = [v for values in latencies.values() for v in values if values]
    bins = np.logspace(np.log10(max(min(everything), 0.05)), np.log10(max(everything)), 80)
    colours = {"foghorn": "#d62728", "bolt": "#1f77b4", "aiohttp": "#7f7f7f"}
    for ax, kind in zip(axes[:, 0], kinds, strict=True):
        for server in SERVERS:
            values = latencies[(kind, server)]
            ax.hist(values, bins=bins, histtype="step", linewidth=1.4, color=colours[server],
                    label=f"{server} (p99 {pct(values, 0.99):.1f} ms)")
        ax.axvline(P99_TARGET_MS, color="black", linestyle=":", linewidth=1)
        ax.set_xscale("log")
        ax.set_ylabel("requests")
        ax.set_title(kind, loc="left", fontsize=10)
        ax.legend(fontsize=8, loc="upper right")
    axes[-1, 0].set_xlabel("ack latency, ms (log scale; dotted line: 50 ms target)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


async def main(per_kind: int, senders: int, rounds: int, png: Path | None,
               port: int | None, kinds: tuple[str, ...] = KINDS) -> int:
    if png is not None:
        need("matplotlib")
    latencies: dict[tuple[str, str], list[float]] = {(k, s): [] for k in KINDS for s in SERVERS}
    async with running_bot(port=port) as bot:
        fake = bot.fake
        for user in SENDER_USERS:
            fake.add_user(user, user.lower())
            fake.channels[CHANNEL].members.add(user)
        async with floor_process("bolt", bot.secret, fake.url) as bolt_url, \
                floor_process("aiohttp", bot.secret, fake.url) as aiohttp_url, \
                load_generator() as load:
            urls = {"foghorn": f"{bot.url}/slack/events", "bolt": bolt_url,
                    "aiohttp": aiohttp_url}
            rec = Recorder(fake)

            async def send(server: str, requests: list[dict[str, str]]) -> dict[str, Any]:
                result = await load({"url": urls[server], "secret": bot.secret,
                                     "mode": "closed", "senders": senders,
                                     "requests": requests})
                bad = [s for s in result["statuses"] if s != 200]
                if bad:
                    sys.exit(f"bench: {server} answered {len(bad)} requests with {bad[0]}")
                if server == "foghorn":
                    await quiet(fake)
                return result

            warm = await build("help", 200, rec, fake)
            for server in SERVERS:
                await send(server, warm)
            if "declare" not in kinds and {"click", "message"} & set(kinds):
                for i in range(senders):  # incidents for the clicks and messages to go to
                    await bot.slack.command(f"declare sev2 Target {i}", user=USER,
                                            channel=CHANNEL)
                await quiet(fake)
            stored_before = await stored_messages(bot.database_url)
            for kind in kinds:
                requests = await build(kind, per_kind, rec, fake)
                size = -(-len(requests) // rounds)
                for r in range(rounds):
                    chunk = requests[r * size:(r + 1) * size]
                    for server in SERVERS[r % 3:] + SERVERS[:r % 3]:
                        result = await send(server, chunk)
                        latencies[(kind, server)] += result["latencies_ms"]
                print(f"{kind}: done", file=sys.stderr)
            stored = await stored_messages(bot.database_url) - stored_before

    print(machine())
    print(f"{per_kind} requests of each kind from {senders} concurrent senders, "
          f"{rounds} alternating rounds; latency in ms, send → answer")
    verdicts = []
    for kind in (*kinds, "all"):
        print(f"{kind}:")
        row: dict[str, list[float]] = {}
        for server in SERVERS:
            row[server] = (latencies[(kind, server)] if kind != "all" else
                           [v for k in kinds for v in latencies[(k, server)]])
            print(f"  {server:8} {summarise(row[server])}")
        ours, bolt, floor = (pct(row[s], 0.99) for s in SERVERS)
        ratio = ours / bolt
        verdicts.append((kind, ours, ratio))
        print(f"  p99 ratios: foghorn/bolt {ratio:.2f} (target ≤ {RATIO_TARGET}), "
              f"bolt/aiohttp {bolt / floor:.2f}, foghorn/aiohttp {ours / floor:.2f}")
    sent = per_kind if "message" in kinds else 0
    print(f"message events acked: {sent}; stored in the bot's database: {stored}")
    if png is not None:
        histogram(latencies, kinds, png, f"Ack latency, {senders} concurrent senders, {per_kind} "
                  f"requests per kind and server ({machine().removeprefix('machine: ')})")
        print(f"histogram: {png}")
    worst = max(verdicts[:-1] or verdicts, key=lambda v: v[2])
    met = all(ours < P99_TARGET_MS and ratio <= RATIO_TARGET for _, ours, ratio in verdicts)
    print(f"summary: foghorn ack p99 {verdicts[-1][1]:.1f} ms over all kinds, worst kind "
          f"{worst[0]} at {worst[1]:.1f} ms = {worst[2]:.2f}× bare Bolt (targets < "
          f"{P99_TARGET_MS:.0f} ms, ≤ {RATIO_TARGET}×): {'met' if met else 'MISSED'}; "
          f"{stored}/{sent} message events stored")
    return 0 if met and stored == sent else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests of each kind")
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--png", type=Path, default=Path(__file__).parent / "ack_latency.png",
                        help="where to write the histogram ('-' for none)")
    parser.add_argument("--port", type=int, help="the bot's port (default: a free one)")
    parser.add_argument("--kinds", default=",".join(KINDS),
                        help="comma-separated subset of " + ",".join(KINDS))
    args = parser.parse_args()
    try:
        sys.exit(asyncio.run(main(args.requests, args.senders, args.rounds,
                                  None if str(args.png) == "-" else args.png, args.port,
                                  tuple(args.kinds.split(",")))))
    except KeyboardInterrupt:
        sys.exit(130)
