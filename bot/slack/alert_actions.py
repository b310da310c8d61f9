"""The buttons on an alert posted for triage: Declare incident, Dismiss. Acked at once; the
post is then replaced by what was decided, so nobody decides twice."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.slack.actions import channel_of
from bot.slack.alert_posts import (
    ALERT_DECLARE,
    ALERT_DISMISS,
    ALERTS_MONITOR,
    ALERTS_RESOLVE,
    MONITORING,
)
from bot.slack.commands import report_errors, resolve_or_ask
from bot.slack.text import escape, truncate

if TYPE_CHECKING:
    from bot.slack.edge import Edge


def register(app: AsyncApp, edge: Edge) -> None:
    def group_of(action: dict[str, Any]) -> int | None:
        value = str(action.get("value", ""))
        return int(value) if value.isdigit() else None

    def headline(body: dict[str, Any]) -> str:
        message = body.get("message") or {}
        return escape(truncate(str(message.get("text", "Alert")), 200))

    @app.action(ALERT_DECLARE)
    async def declare(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                      respond: AsyncRespond) -> None:
        await ack()
        group_id, user = group_of(action), body["user"]["id"]
        if group_id is None or edge.alerts is None:
            return

        async def run() -> None:
            assert edge.alerts is not None and group_id is not None
            inc = await edge.alerts.declare_triaged(group_id, user)
            where = f"<#{inc.channel_id}>" if inc.channel_id else inc.label
            await respond(replace_original=True, text=f":rotating_light: {headline(body)}: "
                          f"<@{user}> declared it as {inc.label} ({inc.severity}) in {where}.")

        edge.background.spawn(report_errors(respond, run()), "alert-declare")

    @app.action(ALERT_DISMISS)
    async def dismiss(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                      respond: AsyncRespond) -> None:
        await ack()
        group_id, user = group_of(action), body["user"]["id"]
        if group_id is None or edge.alerts is None:
            return

        async def run() -> None:
            assert edge.alerts is not None and group_id is not None
            await edge.alerts.dismiss(group_id, user)
            await respond(replace_original=True,
                          text=f":no_bell: {headline(body)}: dismissed by <@{user}>.")

        edge.background.spawn(report_errors(respond, run()), "alert-dismiss")

    # ----- every alert of an incident's group resolved: the commander's answer -------------
    @app.action(ALERTS_MONITOR)
    async def monitor(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        channel, user = channel_of(body) or "", body["user"]["id"]
        edge.background.spawn(report_errors(respond, edge.service.post_update(
            channel, MONITORING, "Every alert of the group has resolved; watching that it "
            "stays so.", user)), "alerts-monitor")

    @app.action(ALERTS_RESOLVE)
    async def resolve(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        channel, user = channel_of(body) or "", body["user"]["id"]
        edge.background.spawn(report_errors(respond, resolve_or_ask(
            edge, respond, channel, "Every alert of the group resolved.", user)),
            "alerts-resolve")
