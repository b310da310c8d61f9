"""The two floors the bot's ack latency is measured against, each run as its own process.

- `bolt`: a bare Bolt `AsyncApp` (signature check, parsing, listener matching) whose
  listeners only ack: the framework floor. Served by Bolt's own aiohttp server.
- `aiohttp`: an aiohttp handler that reads the body and answers 200: the machine floor.

Run: python bench/floors.py bolt|aiohttp --port P --secret S --slack-url URL
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

try:
    from aiohttp import web
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient
except ImportError as exc:  # pragma: no cover - depends on the environment
    sys.exit(f"bench: missing dependency ({exc.name}); run `make setup` first")


def bare_bolt(secret: str, slack_url: str, port: int) -> web.Application:
    client = AsyncWebClient(token="xoxb-bench", base_url=slack_url)
    # The same configuration as the bot's: the listener's return sends the answer. (Bolt's
    # default runs the listener in a task and polls for its ack every 10 ms.)
    app = AsyncApp(client=client, signing_secret=secret, process_before_response=True)

    @app.command(re.compile(".*"))
    async def command(ack: Any) -> None:
        await ack()

    @app.action(re.compile(".*"))
    async def action(ack: Any) -> None:
        await ack()

    @app.event(re.compile(".*"))
    async def event() -> None:
        return None

    return app.web_app(path="/slack/events", port=port)  # Bolt's own aiohttp server


def bare_aiohttp() -> web.Application:
    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=200)

    web_app = web.Application()
    web_app.router.add_post("/slack/events", ok)
    return web_app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("bolt", "aiohttp"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", default="")
    parser.add_argument("--slack-url", default="http://127.0.0.1:1")
    args = parser.parse_args()
    if args.kind == "bolt":
        app = bare_bolt(args.secret, args.slack_url, args.port)
    else:
        app = bare_aiohttp()
    try:
        web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)
    except OSError as exc:
        sys.exit(f"bench: cannot serve the {args.kind} floor on port {args.port}: {exc.strerror}")
