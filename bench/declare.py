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
import os
import secrets
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

try:
    import aiohttp

    from bot.testing.fake_slack import BOT_USER_ID, INCIDENTS_CHANNEL_ID, Call, FakeSlack
    from bot.testing.slack_requests import SlackSender
except ImportError as exc:  # pragma: no cover - depends on the environment
    sys.exit(f"bench: missing dependency ({exc.name}); run `make setup` first")

USER, CHANNEL = "UBENCH", "C0BENCH"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_healthy(url: str, proc: asyncio.subprocess.Process,
                       session: aiohttp.ClientSession) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            sys.exit(f"bench: the bot exited during start-up (code {proc.returncode})")
        try:
            async with session.get(f"{url}/healthz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    sys.exit("bench: the bot did not become healthy within 60 s")


async def wait_pins(fake: FakeSlack, count: int) -> None:
    """Wait until `count` declares have pinned their card (the last step of a declare)."""
    async with asyncio.timeout(30):
        while len([c for c in fake.calls_to("pins.add") if c.status == 200]) < count:  # noqa: ASYNC110
            await asyncio.sleep(0.002)


def depth(calls: list[Call], target: Call) -> int:
    """Length of the longest chain of calls, each starting after the previous ended,
    that ends with `target`: the sequential Slack round trips on its path."""
    memo: dict[int, int] = {}

    def d(c: Call) -> int:
        key = id(c)
        if key not in memo:
            before = [p for p in calls if p.ended <= c.started]
            memo[key] = 1 + max((d(p) for p in before), default=0)
        return memo[key]

    return d(target)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main(declares: int, latency: float) -> None:
    fake = FakeSlack()
    fake.add_user(USER, "bench")
    fake.add_channel("bench", channel_id=CHANNEL, members={USER})
    fake.channels[INCIDENTS_CHANNEL_ID].members.add(BOT_USER_ID)
    await fake.start()
    port, secret = free_port(), secrets.token_hex(16)
    tmp = tempfile.TemporaryDirectory()
    env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": secret,
           "SLACK_API_URL": fake.url, "PORT": str(port),
           "DATABASE_URL": f"sqlite+aiosqlite:///{tmp.name}/bench.db",
           "PLAYBOOKS_DIR": str(ROOT / "playbooks")}
    env.pop("SLACK_APP_TOKEN", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(url, proc, session)
            slack = SlackSender(url, secret, fake, session)
            await slack.command("help", user=USER, channel=CHANNEL)  # Bolt's one-off auth.test

            acks: list[float] = []
            for i in range(declares):
                t0 = time.perf_counter()
                reply = await slack.command(f"declare sev2 Bench incident {i}", user=USER,
                                            channel=CHANNEL)
                acks.append((time.perf_counter() - t0) * 1000)
                assert reply.status == 200 and "Declaring" in reply.text, reply.body
                await wait_pins(fake, i + 1)

            fake.delay("*", latency)
            paths: list[tuple[int, int, float, float]] = []
            for j in range(5):
                first = len(fake.calls)
                sent = time.monotonic()
                await slack.command(f"declare sev2 Latency incident {j}", user=USER,
                                    channel=CHANNEL)
                await wait_pins(fake, declares + j + 1)
                await asyncio.sleep(latency * 2)  # let any trailing call finish
                calls = [c for c in fake.calls[first:] if c.method != "auth.test"]
                card = next(c for c in calls if c.method == "chat.postMessage"
                            and c.args.get("blocks"))
                paths.append((len(calls), depth(calls, card), (card.ended - sent) * 1000,
                              (max(c.ended for c in calls) - sent) * 1000))
            methods = sorted(c.method for c in fake.calls[first:] if c.method != "auth.test")
    finally:
        if proc.returncode is None:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 15)
        await fake.stop()
        tmp.cleanup()

    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
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
