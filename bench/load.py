"""The load generator: a separate process that sends signed requests and times the answers.

It reads one JSON job per line on stdin and writes one JSON result per line on stdout, so the
benchmark can keep it (and its warm connections) across rounds. A job:

    {"url": ".../slack/events", "secret": "...", "mode": "closed", "senders": 20,
     "requests": [{"body": "...", "type": "application/json"}, ...]}

`closed`: `senders` tasks each send their next request as soon as the last was answered.
`open`: requests leave at `rate` per second whatever the answers do (like Slack).
Requests are signed when they leave, the way Slack signs them. The result holds each request's
latency in milliseconds (send → full answer), its status, and the seconds the job took.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
try:
    import aiohttp

    from bot.testing.slack_requests import sign
except ImportError as exc:  # pragma: no cover - depends on the environment
    sys.exit(f"bench: missing dependency ({exc.name}); run `make setup` first")


async def run_job(session: aiohttp.ClientSession, job: dict[str, Any]) -> dict[str, Any]:
    url, secret = job["url"], job["secret"]
    requests = [(r["body"].encode(), r["type"]) for r in job["requests"]]
    latencies = [0.0] * len(requests)
    statuses = [0] * len(requests)

    async def send(i: int) -> None:
        body, content_type = requests[i]
        headers = {"Content-Type": content_type, **sign(secret, body)}
        t0 = time.perf_counter()
        try:
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()
                statuses[i] = resp.status
        except aiohttp.ClientError:
            statuses[i] = -1
        latencies[i] = (time.perf_counter() - t0) * 1000

    started = time.perf_counter()
    if job["mode"] == "closed":
        next_index = iter(range(len(requests)))

        async def sender() -> None:
            for i in next_index:
                await send(i)

        await asyncio.gather(*(sender() for _ in range(job["senders"])))
    else:
        rate, tasks = float(job["rate"]), []
        for i in range(len(requests)):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(i)))
        sent = time.perf_counter() - started
        await asyncio.gather(*tasks)
        return {"latencies_ms": latencies, "statuses": statuses,
                "seconds": time.perf_counter() - started, "send_seconds": sent}
    return {"latencies_ms": latencies, "statuses": statuses,
            "seconds": time.perf_counter() - started}


async def main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=256 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as session:
        while line := await reader.readline():
            result = await run_job(session, json.loads(line))
            sys.stdout.write(json.dumps(result) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(130)
