"""`/incident`: parse, acknowledge at once, then do the Slack work in the background."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.incidents.errors import (
    ChatError,
    NeedsConfirmation,
    SeverityNeedsConfirmation,
    UserError,
)
from bot.incidents.model import CHANNEL_GONE
from bot.incidents.service import DeclareRequest
from bot.slack import declaring, parsing
from bot.slack.text import escape

if TYPE_CHECKING:
    from bot.slack.edge import Edge

log = logging.getLogger(__name__)

COMMAND = "/incident"
TIMELINE_SHOWN = 50


async def report_errors(respond: Callable[..., Awaitable[Any]], work: Awaitable[object]
                        ) -> None:
    """Run `work`; tell the person, privately, anything that went wrong."""
    try:
        await work
    except UserError as exc:
        await respond(text=str(exc), response_type="ephemeral", replace_original=False)
    except ChatError as exc:
        text = (f"Saved, but Foghorn cannot post in the incident channel ({exc.error}): it "
                "was archived, or Foghorn was removed from it. Unarchive it or `/invite "
                "@Foghorn` there, and Foghorn catches up." if exc.error in CHANNEL_GONE else
                f"Saved, but Slack refused part of it ({exc.error}). The incident record is "
                "intact; try again in a moment.")
        await respond(text=text, response_type="ephemeral", replace_original=False)
    except Exception:
        log.exception("command failed")
        await respond(text="Something went wrong on Foghorn's side; it has been logged.",
                      response_type="ephemeral", replace_original=False)


async def resolve_or_ask(edge: Edge, respond: Callable[..., Awaitable[Any]], channel: str,
                         summary: str, user: str) -> None:
    """Resolve; when checklist items are still open, ask the person (only them) to confirm
    with one more click instead."""
    try:
        await edge.service.resolve(channel, summary, user)
    except NeedsConfirmation as ask:
        text, blocks = edge.presenter.confirm_resolve(ask.open_items, ask.confirmation_id)
        await respond(text=text, blocks=blocks, response_type="ephemeral",
                      replace_original=False)


async def _ack_noting(ack: AsyncAck, notice: str) -> None:
    """Acknowledge, telling the person (only them) when their text was cut."""
    if notice:
        await ack(response_type="ephemeral", text=notice)
    else:
        await ack()


def team_of(body: dict[str, Any]) -> str:
    """The workspace a command, interaction or event comes from."""
    team = body.get("team")
    user = body.get("user")
    return str(body.get("team_id") or (team.get("id") if isinstance(team, dict) else None)
               or (user.get("team_id") if isinstance(user, dict) else None) or "")


def register(app: AsyncApp, edge: Edge) -> None:
    @app.command(COMMAND)
    async def incident_command(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond
                               ) -> None:
        user = body["user_id"]
        # Slack always names the channel of a command; "" (no incident's) if it did not.
        channel: str = body.get("channel_id") or ""
        cmd = parsing.parse(body.get("text", ""), user, edge.playbook)
        service = edge.service
        organisation = edge.organisation(body)
        if organisation is not None and channel and not isinstance(cmd, parsing.Declare):
            inc = await service.channel_incident(channel)
            try:
                if inc is not None:
                    service.require_same_organisation(inc, *organisation)
            except UserError as exc:
                await ack(response_type="ephemeral", text=str(exc))
                return

        match cmd:
            case parsing.Usage(message=message, show_help=show_help):
                text = f"{message}\n\n{edge.presenter.help()}" if show_help else message
                await ack(response_type="ephemeral", text=text)
            case parsing.Help():
                await ack(response_type="ephemeral", text=edge.presenter.help())
            case parsing.ListOpen(type=type_id):
                incidents = await service.list_open(user, edge.scope(body.get("team_id")))
                if type_id:
                    incidents = [i for i in incidents if i.type == type_id]
                await ack(response_type="ephemeral", text=edge.presenter.incident_list(
                    incidents, service.clock(), of_type=type_id))
            case parsing.ChangeType(type=type_id, keep_public=keep_public):
                await ack()
                edge.background.spawn(report_errors(respond, service.change_type(
                    channel, type_id, user, keep_public=keep_public)), "change-type")
            case parsing.PageOnCall(target=target, message=message):
                await ack()
                edge.background.spawn(report_errors(respond, service.page_on_demand(
                    channel, target, message, user)), "page")
            case parsing.ShowRunbook(type=type_id):
                try:  # check first, speak once
                    inc, kind = await service.runbook(channel, type_id)
                except UserError as exc:
                    await ack(response_type="ephemeral", text=str(exc))
                    return
                if inc is None:  # outside an incident channel: only the asker sees it
                    text, blocks = edge.presenter.runbook(kind, None)
                    await ack(response_type="ephemeral", text=text, blocks=blocks)
                    return
                await ack()
                edge.background.spawn(report_errors(respond, service.post_runbook(inc, kind)),
                                    "runbook")
            case parsing.DeclareModal(severity=severity, type=type_id):
                await ack()
                view = edge.presenter.declare_modal(channel or None, severity, type_id=type_id)

                async def open_modal() -> None:
                    await (await edge.slack(body)).open_view(body["trigger_id"], view)

                edge.background.spawn(report_errors(respond, open_modal()), "open-declare-modal",
                                    urgent=True)
            case parsing.Declare(title=title, severity=severity, is_private=private,
                                 notice=notice, type=type_id):
                # Stored before the ack when the database allows: an acknowledged declare
                # survives a crash. Either way it is never lost (see bot.slack.declaring).
                try:
                    registered, storing = await declaring.register_promptly(
                        edge, DeclareRequest(title=title, by=user, severity=severity,
                                           is_private=private, type=type_id,
                                           origin_channel=channel or None,
                                           team_id=body.get("team_id", ""),
                                           enterprise_id=body.get("enterprise_id") or None))
                except UserError as exc:
                    await ack(response_type="ephemeral", text=str(exc))
                    return
                if registered is not None and registered.duplicate:
                    await ack(response_type="ephemeral", text=declaring.outcome(registered))
                    return
                as_sev = f" as {severity}" if severity else ""
                text = (declaring.slow_store_notice(title) if registered is None else
                        f":hourglass_flowing_sand: Declaring *{escape(title)}*{as_sev}…")
                await ack(response_type="ephemeral",
                          text=text + (f"\n{notice}" if notice else ""))

                async def say(text: str) -> None:
                    await respond(text=text, response_type="ephemeral", replace_original=True)

                edge.background.spawn(report_errors(respond, declaring.finish(edge, storing, say)),
                                    "declare")
            case parsing.AssignRole(role=role, user=target):
                await ack()

                async def assign() -> None:
                    inc = await service.in_channel(channel, "role")
                    await service.assign_role(inc.id, role, target, user)

                edge.background.spawn(report_errors(respond, assign()), "assign-role")
            case parsing.ChangeSeverity(severity=severity):
                await ack()

                async def change() -> None:
                    try:
                        await service.change_severity(channel, severity, user)
                    except SeverityNeedsConfirmation as ask:
                        text, blocks = edge.presenter.confirm_severity(ask.old, ask.new,
                                                                     ask.confirmation_id)
                        await respond(text=text, blocks=blocks, response_type="ephemeral",
                                      replace_original=False)

                edge.background.spawn(report_errors(respond, change()), "change-severity")
            case parsing.PostUpdate(status=status, message=message, notice=notice):
                await _ack_noting(ack, notice)
                edge.background.spawn(
                    report_errors(respond, service.post_update(channel, status, message, user)),
                    "post-update")
            case parsing.AddNote(text=note, notice=notice):
                await _ack_noting(ack, notice)
                edge.background.spawn(
                    report_errors(respond, service.add_note(channel, note, user)), "note")
            case parsing.ShowTimeline():
                try:
                    inc = await service.in_channel(channel, "timeline")
                except UserError as exc:
                    await ack(response_type="ephemeral", text=str(exc))
                    return
                entries, total = await service.timeline.recent(inc.id, TIMELINE_SHOWN)
                text, blocks = edge.presenter.timeline(inc, entries, total)
                await ack(response_type="ephemeral", text=text, blocks=blocks)
            case parsing.ShowStats(period=period):
                await ack()
                team = edge.scope(body.get("team_id"))

                async def report() -> None:
                    text, blocks = edge.presenter.stats(await service.stats(period, team))
                    await respond(text=text, blocks=blocks, response_type="ephemeral",
                                  replace_original=False)

                edge.background.spawn(report_errors(respond, report()), "stats")
            case parsing.Postmortem(done=True):
                await ack()
                edge.background.spawn(
                    report_errors(respond, service.postmortem_done_here(channel, user)),
                    "postmortem-done")
            case parsing.Postmortem():
                try:  # check first, speak once
                    await service.in_channel(channel, "postmortem")
                except UserError as exc:
                    await ack(response_type="ephemeral", text=str(exc))
                    return
                await ack(response_type="ephemeral",
                          text=":hourglass_flowing_sand: Building the postmortem draft…")
                edge.background.spawn(
                    report_errors(respond, service.publish_postmortem(channel, user)),
                    "postmortem")
            case parsing.PostChecklist(checklist=""):
                await ack(response_type="ephemeral", text=service.checklist_names()
                          + " Post one with `/incident checklist <id>` in an incident channel.")
            case parsing.PostChecklist(checklist=checklist_id):
                await ack()
                edge.background.spawn(report_errors(respond, service.checklist_on_demand(
                    channel, checklist_id)), "checklist")
            case parsing.Resolve(summary=summary, notice=notice):
                await _ack_noting(ack, notice)

                edge.background.spawn(report_errors(respond, resolve_or_ask(
                    edge, respond, channel, summary, user)), "resolve")
