"""The URLs the fake Slack hands out besides the Web API, as Slack's behave: `response_url`
endpoints (a credential; `replace_original` and `delete_original` act on the message whose
button made them) and the upload URLs of files.getUploadURLExternal. A mixin of FakeSlack."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.testing import blockkit
from bot.testing.method_base import MethodBase
from bot.testing.slack_world import TEAM_ID


class FakeUrls(MethodBase):
    """response_url and upload endpoints."""

    responses: list[dict[str, Any]]
    response_sources: dict[str, tuple[str, str]]

    def response_url(self, key: str | None = None, kind: str = "commands",
                     source: tuple[str, str] | None = None) -> str:
        """A response_url shaped like Slack's (`/commands/T…/<id>/<secret>`, or `/actions/`
        for interactions): it is a credential, and the logs must treat it as one. `source`:
        the (channel, ts) of the message whose button made it, which `replace_original` and
        `delete_original` act on, as in Slack."""
        n = next(self._ids)
        key = key or f"fAk3{n:08d}s3cr3t"
        if source is not None:
            self.response_sources[key] = source
        return f"{self.base_url}{kind}/{TEAM_ID}/{n}/{key}"

    async def _response_url(self, request: web.Request) -> web.Response:
        """A post to a response_url: Slack answers a refused message with HTTP 400 and the
        error as plain text (as incoming webhooks do), and nothing is shown."""
        body = await request.json()
        error = None
        if not body.get("delete_original") and not body.get("text") and not body.get("blocks"):
            error = "no_text"
        elif len(str(body.get("text") or "")) > blockkit.RULES["message_text"].limit:
            error = "msg_too_long"
        elif body.get("blocks") and self.strict:
            problems = blockkit.message_problems(body["blocks"])
            if problems:
                error = "invalid_blocks"
                self.refusals.append((error, problems))
        if error is not None:
            if error != "invalid_blocks":
                self.refusals.append((error, ["response_url"]))
            return web.Response(status=400, text=error)
        self.responses.append({"key": request.match_info["key"], **body})
        source = self.response_sources.get(request.match_info["key"])
        ch = self.channels.get(source[0]) if source else None
        msg = ch.message(source[1]) if ch and source else None
        if ch is not None and msg is not None:
            if body.get("delete_original"):
                ch.messages.remove(msg)
            elif body.get("replace_original"):
                msg.text = str(body.get("text") or "")
                msg.blocks = list(body.get("blocks") or [])
                msg.edited = True
                self._emit("update", ch, msg)
        return web.Response(text="ok")

    async def _upload(self, request: web.Request) -> web.Response:
        """The upload URL handed out by files.getUploadURLExternal: takes the raw bytes."""
        f = self.files.get(request.match_info["file_id"])
        if f is None:
            return web.Response(status=404, text="unknown upload")
        data = await request.read()
        if len(data) != f["length"]:
            return web.Response(status=400, text="length does not match")
        f["content"] = data
        return web.Response(text=f"OK - {len(data)}")
