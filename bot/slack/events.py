"""Event listeners. Every event type subscribed in manifest.yml has one here, so Bolt never
answers 404 (which Slack treats as a failure and retries)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp

if TYPE_CHECKING:
    from bot.app import Foghorn


def register(app: AsyncApp, fh: Foghorn) -> None:
    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        user = event["user"]

        async def publish() -> None:
            incidents = await fh.service.list_open(viewer=user)
            await fh.gateway.publish_home(user, fh.presenter.home(incidents, fh.service.clock()))

        fh.background.spawn(publish(), "publish-home")
