"""Buttons, selects and modal submissions."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.incidents.errors import UserError
from bot.incidents.model import Incident
from bot.incidents.service import ANYONE, DeclareRequest
from bot.slack import blocks, declaring
from bot.slack.commands import report_errors
from bot.slack.tenancy import origin as origin_of

if TYPE_CHECKING:
    from bot.slack.edge import Edge

from bot.slack.text import obj

log = logging.getLogger(__name__)


def _state(values: dict[str, Any], block: str) -> dict[str, Any]:
    """The submitted state of the element `value` in input block `block`."""
    state = (values.get(block) or {}).get("value")
    return state if isinstance(state, dict) else {}


def _text(values: dict[str, Any], block: str) -> str:
    value = _state(values, block).get("value")
    return value if isinstance(value, str) else ""


def channel_of(body: dict[str, Any]) -> str | None:
    """The channel a click was made in (a message's; none for the App Home)."""
    channel, container = obj(body.get("channel")), obj(body.get("container"))
    found = channel.get("id") or container.get("channel_id")
    return str(found) if found else None


def _holder_shown(body: dict[str, Any], block_id: str) -> str | object | None:
    """Who held the role on the card as the clicker saw it (the picker's initial_user in
    the clicked row); ANYONE when the payload does not carry the message."""
    message = body.get("message") if isinstance(body.get("message"), dict) else None
    if message is None:
        return ANYONE
    for block in message.get("blocks") or []:
        if block.get("block_id") == block_id:
            for el in block.get("elements") or []:
                if el.get("action_id") == blocks.ROLE_PICK:
                    return el.get("initial_user")
    return ANYONE


def register(app: AsyncApp, edge: Edge) -> None:
    def here(body: dict[str, Any], incident_id: int | None) -> Awaitable[Incident]:
        """The incident a click names, refused unless the click was made in its channel by
        someone who may see it (a forged payload from elsewhere changes nothing)."""
        return edge.service.acting_in(channel_of(body), body["user"]["id"], incident_id,
                                      team=edge.organisation(body))

    async def role_action(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                          respond: AsyncRespond) -> None:
        """A card row's Take button (the clicker takes it) or picker (the chosen person)."""
        await ack()
        target = blocks.parse_role_block_id(action.get("block_id", ""))
        by = body["user"]["id"]
        user = action.get("selected_user") if action["action_id"] == blocks.ROLE_PICK else by
        if target is None or not user:
            return
        incident_id, role = target
        seen = _holder_shown(body, action.get("block_id", ""))

        async def assign() -> None:
            await here(body, incident_id)
            await edge.service.assign_role(incident_id, role, user, by, seen=seen)

        edge.background.spawn(report_errors(respond, assign()), "assign-role")

    app.action(blocks.ROLE_TAKE)(role_action)
    app.action(blocks.ROLE_PICK)(role_action)

    def _incident_id(action: dict[str, Any]) -> int | None:
        value = str(action.get("value", "")).split("|")[0]
        return int(value) if value.isdigit() else None

    @app.action(blocks.CHECKLIST_TICK)
    async def tick(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                   respond: AsyncRespond) -> None:
        await ack()
        target = blocks.parse_checklist_block_id(action.get("block_id", ""))
        if target is None:
            return
        incident_id, checklist_id = target
        selected = {int(o["value"]) for o in action.get("selected_options") or []
                    if str(o.get("value", "")).isdigit()}
        # What this person's copy of the message showed: their change is the difference.
        shown: dict[str, Any] = next(
            (b for b in obj(body.get("message")).get("blocks", [])
             if b.get("block_id") == action.get("block_id")), {})
        seen = {int(o["value"]) for e in shown.get("elements", [])
                for o in e.get("initial_options") or [] if str(o.get("value", "")).isdigit()}

        async def tick_it() -> None:
            await here(body, incident_id)
            await edge.service.tick(incident_id, checklist_id, selected, seen, body["user"]["id"])

        edge.background.spawn(report_errors(respond, tick_it()), "tick")

    answers = {blocks.RESOLVE_CONFIRM: edge.service.resolve_confirmed,
               blocks.SEVERITY_CONFIRM: edge.service.severity_confirmed}

    async def confirmed(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                        respond: AsyncRespond) -> None:
        """A one-click confirmation ("Resolve anyway", "Change to SEV3"): its value is the
        stored question's id."""
        await ack()
        asked = _incident_id(action)
        if asked is None:
            return

        async def answer() -> None:
            await answers[action["action_id"]](channel_of(body) or "", asked,
                                               body["user"]["id"])
            await respond(delete_original=True)

        edge.background.spawn(report_errors(respond, answer()), "confirmed")

    for action_id in answers:
        app.action(action_id)(confirmed)

    @app.action(blocks.REMINDER_UPDATE)
    async def open_update(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                          respond: AsyncRespond) -> None:
        await ack()
        incident_id = _incident_id(action)

        async def open_modal() -> None:
            inc = edge.service.require_open(await here(body, incident_id))
            await (await edge.slack(body)).open_view(body["trigger_id"],
                                                            edge.presenter.update_modal(inc))

        edge.background.spawn(report_errors(respond, open_modal()), "open-update-modal",
                              urgent=True)

    @app.action(blocks.SNOOZE_ACTION)
    async def snooze(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                     respond: AsyncRespond) -> None:
        await ack()
        incident_id = _incident_id(action)
        minutes = str(action.get("value", "")).partition("|")[2]
        if incident_id is None or not minutes.isdigit():
            return

        async def snooze_it() -> None:
            await here(body, incident_id)
            await edge.service.snooze(incident_id, int(minutes), body["user"]["id"])

        edge.background.spawn(report_errors(respond, snooze_it()), "snooze")

    @app.action(blocks.POSTMORTEM_BUILD)
    async def build_postmortem(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond
                               ) -> None:
        await ack()

        async def build() -> None:
            await here(body, None)
            await edge.service.publish_postmortem(channel_of(body) or "", body["user"]["id"])

        edge.background.spawn(report_errors(respond, build()), "postmortem")

    @app.action(blocks.POSTMORTEM_DONE)
    async def postmortem_done(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                              respond: AsyncRespond) -> None:
        await ack()
        incident_id = _incident_id(action)
        if incident_id is None:
            return

        async def done() -> None:
            await here(body, incident_id)
            await edge.service.mark_postmortem_done(incident_id, body["user"]["id"])

        edge.background.spawn(report_errors(respond, done()), "postmortem-done")

    @app.view(blocks.UPDATE_MODAL)
    async def update_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]
                               ) -> None:
        values = (view.get("state") or {}).get("values") or {}
        message = _text(values, "message").strip()
        status = (_state(values, "status").get("selected_option") or {}).get("value")
        if not message:
            await ack(response_action="errors", errors={"message": "Say what you know."})
            return
        await ack()
        try:
            channel = json.loads(view.get("private_metadata") or "{}").get("channel") or ""
        except (json.JSONDecodeError, AttributeError):
            channel = ""
        user = body["user"]["id"]

        async def tell(text: str, **_: Any) -> None:
            await (await edge.slack(body)).tell(channel or None, user, text)


        async def update() -> None:
            await edge.service.acting_in(channel or None, user,  # the form names its incident
                                         team=edge.organisation(body))
            await edge.service.post_update(channel, str(status or ""), message, user)

        edge.background.spawn(report_errors(tell, update()), "update-modal")

    @app.action(blocks.DECLARE_BUTTON)
    async def open_declare(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond
                           ) -> None:
        await ack()
        view = edge.presenter.declare_modal(None)

        async def open_modal() -> None:
            await (await edge.slack(body)).open_view(body["trigger_id"], view)

        edge.background.spawn(report_errors(respond, open_modal()), "open-declare-modal",
                            urgent=True)

    @app.view(blocks.DECLARE_MODAL)
    async def declare_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]
                                ) -> None:
        values = (view.get("state") or {}).get("values") or {}
        # Modal inputs arrive as the raw text typed (Slack escapes nothing there).
        title = " ".join(_text(values, "title").split())
        if not title:
            await ack(response_action="errors",
                      errors={"title": "Give the incident a short title."})
            return
        severity = (_state(values, "severity").get("selected_option") or {}).get("value")
        if severity and edge.playbook.find_severity(severity) is None:
            await ack(response_action="errors", errors={"severity": "Pick a severity."})
            return
        detected = _state(values, "detected").get("selected_date_time")
        detected_at = (datetime.fromtimestamp(int(detected), UTC)
                       if isinstance(detected, int | str) and str(detected).isdigit() else None)
        now = edge.service.clock()
        if detected_at is not None and not now - timedelta(days=30) <= detected_at <= now:
            await ack(response_action="errors", errors={
                "detected": "Pick a time in the last 30 days, not in the future."})
            return
        type_id = (_state(values, "type").get("selected_option") or {}).get("value")
        if type_id and edge.playbook.incident_type(type_id) is None:
            await ack(response_action="errors", errors={"type": "Pick a type."})
            return
        checked = {o.get("value") for o in _state(values, "private").get("selected_options")
                   or []}
        try:
            origin = json.loads(view.get("private_metadata") or "{}").get("origin")
        except (json.JSONDecodeError, AttributeError):
            origin = None
        user = body["user"]["id"]
        request = DeclareRequest(
            title=title,
            by=user,
            severity=severity,
            description=_text(values, "description"),
            # Unticked: as the type says; "public" overrides a private-by-default type.
            is_private=True if "private" in checked else (False if "public" in checked
                                                          else None),
            type=type_id,
            detected_at=detected_at,
            origin_channel=origin,
            team_id=origin_of(body).team_id,
            enterprise_id=origin_of(body).enterprise_id,
        )

        # Stored before the ack when the database allows, as for the slash command; a
        # second submit of the same form finds the first incident.
        try:
            registered, storing = await declaring.register_promptly(edge, request)
        except UserError as exc:
            await ack(response_action="errors", errors={"title": str(exc)[:150]})
            return
        await ack()

        async def tell(text: str, **_: Any) -> None:
            await (await edge.slack(body)).tell(origin, user, text)

        if registered is None:
            edge.background.spawn(report_errors(tell, tell(declaring.slow_store_notice(title))),
                                "declare-slow-store")
        edge.background.spawn(report_errors(tell, declaring.finish(edge, storing, tell)),
                            "declare-modal")
