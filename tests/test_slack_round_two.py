"""Real Slack, round two (issue #25): Enterprise Grid installs, Slack Connect channels, channels
turned private or renamed, Socket Mode's other workspaces, acks for everything, and Slack's
2025 history limits. Each payload is in the shape Slack sends (the docs' samples and
bolt-python's Slack Connect and org-wide fixtures)."""

from __future__ import annotations

import asyncio
import io
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import build, finish_startup, shutdown, start_http
from bot.config import load_settings
from bot.export import export
from bot.incidents.errors import ChatError
from bot.serve import connect_socket_mode
from bot.slack.blocks import ROLE_TAKE
from bot.store import repo
from bot.store.tables import IncidentRow
from bot.testing.fake_slack import BOT_USER_ID, INCIDENTS_CHANNEL_ID, TEAM_ID, FakeSlack
from tests.conftest import ALICE, BOB, GENERAL, ROOT, Bot, BotFactory
from tests.test_workspaces import BOTS, CLIENT_ID, CLIENT_SECRET, count, install

ORG, ORG_NAME = "E0GRID", "Grid Org"
GRID_TEAM, GRID_USER, GRID_GENERAL = "T0GRIDWS", "UGRIDDY", "C0GRIDGEN"
PARTNER_TEAM, PARTNER_ORG, PARTNER = "T0PARTNER", "E0PARTNER", "UPARTNER"


@pytest.fixture
async def grid_bot(fake: FakeSlack, make_bot: BotFactory) -> Bot:
    """A bot serving OAuth installs, with a workspace of an Enterprise Grid organisation."""
    fake.oauth_client = (CLIENT_ID, CLIENT_SECRET)
    fake.add_team(GRID_TEAM, "Grid Workspace", org=(ORG, ORG_NAME))
    fake.add_user(GRID_USER, "griddy")
    fake.add_channel("general", channel_id=GRID_GENERAL, members={GRID_USER}, team=GRID_TEAM)
    bot = await make_bot(SLACK_BOT_TOKEN=None, SLACK_CLIENT_ID=CLIENT_ID,
                         SLACK_CLIENT_SECRET=CLIENT_SECRET)
    fake.oauth_redirect_url = f"{bot.url}/slack/oauth_redirect"
    return bot


async def grid_declare(bot: Bot, title: str, *, org_install: bool = False) -> Any:
    reply = await bot.slack.command(
        f"declare sev2 {title}", user=GRID_USER, channel=GRID_GENERAL, team_id=GRID_TEAM,
        enterprise_id=ORG, enterprise_name=ORG_NAME,
        is_enterprise_install="true" if org_install else "false")
    assert reply.status == 200 and "Declaring" in reply.text, reply.body
    await bot.settle()
    [inc] = [i for i in await bot.open_incidents() if title in i.title]
    return inc


# ----- 1. Enterprise Grid installs --------------------------------------------------------
async def test_a_workspace_of_an_enterprise_grid_org_installs_declares_and_uninstalls(
        grid_bot: Bot) -> None:
    bot, fake = grid_bot, grid_bot.fake
    await install(bot, GRID_TEAM, GRID_USER)
    [access] = fake.calls_to("oauth.v2.access")
    async with bot.fh.db.read() as s:
        [row] = (await s.execute(select(BOTS.c.enterprise_id, BOTS.c.team_id))).all()
    assert tuple(row) == (ORG, GRID_TEAM)  # stored as Slack answered: (organisation, team)

    inc = await grid_declare(bot, "Grid checkout down")
    assert inc.setup_done and inc.enterprise_id == ORG and inc.team_id == GRID_TEAM
    channel = fake.channels[inc.channel_id]
    assert channel.team == GRID_TEAM and channel.pins and GRID_USER in channel.members
    assert not fake.refusals and "not_installed" not in bot.responses_text()
    # Work after the declare (the reactions' calls) goes out with the workspace's token.
    await bot.slack.command("severity sev1", user=GRID_USER, channel=inc.channel_id,
                            team_id=GRID_TEAM, enterprise_id=ORG)
    await bot.settle()
    assert (await bot.incident(inc.id)).severity == "SEV1"
    assert {c.team for c in fake.calls if c.args.get("channel") == inc.channel_id} == {GRID_TEAM}
    assert access.args["code"]

    # tokens_revoked from the Grid workspace removes its installation.
    fake.uninstall(GRID_TEAM)
    reply = await bot.slack.event({"type": "tokens_revoked",
                                   "tokens": {"oauth": [], "bot": [BOT_USER_ID]}},
                                  team=GRID_TEAM, enterprise=ORG)
    assert reply.status == 200
    await bot.settle()
    assert await count(bot, BOTS) == 0


async def test_an_org_wide_install_serves_every_workspace_of_the_org(grid_bot: Bot) -> None:
    bot, fake = grid_bot, grid_bot.fake
    await install(bot, ORG, GRID_USER)  # approved for the whole organisation
    async with bot.fh.db.read() as s:
        [row] = (await s.execute(select(BOTS.c.enterprise_id, BOTS.c.team_id,
                                        BOTS.c.is_enterprise_install))).all()
    assert tuple(row) == (ORG, None, True)

    inc = await grid_declare(bot, "Org wide outage", org_install=True)
    assert inc.setup_done and inc.enterprise_id == ORG
    # An org token must say which workspace a channel is made in: Slack refuses without.
    [create] = fake.calls_to("conversations.create")
    assert create.args["team_id"] == GRID_TEAM and create.error is None
    assert fake.channels[inc.channel_id].team == GRID_TEAM and not fake.refusals

    fake.uninstall(ORG)
    await bot.slack.event({"type": "app_uninstalled"}, team=GRID_TEAM, enterprise=ORG,
                          org_install=True)
    await bot.settle()
    assert await count(bot, BOTS) == 0


# ----- 2 and 4. Slack Connect, and Socket Mode's other workspaces -----------------------
def partner_message(bot: Bot, channel: str, text: str) -> dict[str, Any]:
    """A partner's message in a Slack Connect channel: the envelope carries the partner's
    team and organisation; our workspace is only in `authorizations`."""
    msg = bot.fake.human_message(channel, PARTNER, text)
    event = bot.slack.message_event(channel, msg)
    event.update(team=PARTNER_TEAM, user_team=PARTNER_TEAM, source_team=PARTNER_TEAM)
    return event


async def timeline_texts(bot: Bot, incident_id: int) -> list[str]:
    return [e.text for e in await bot.fh.service.timeline.entries(incident_id)]


async def test_a_partners_message_in_a_slack_connect_channel_reaches_the_timeline(
        bot: Bot) -> None:
    inc, channel = await bot.declare("sev2 Shared with a vendor")
    bot.fake.add_user(PARTNER, "vendor")
    channel.members.add(PARTNER)
    channel.shared_with.add(PARTNER_TEAM)
    reply = await bot.slack.event({"type": "channel_shared", "channel": inc.channel_id,
                                   "connected_team_id": PARTNER_TEAM,
                                   "event_ts": f"{time.time():.6f}"})
    assert reply.status == 200
    event = partner_message(bot, inc.channel_id, "Vendor here: we see it on our side too")
    reply = await bot.slack.event(event, team=PARTNER_TEAM, enterprise=PARTNER_ORG,
                                  authorized=(TEAM_ID, None))
    assert reply.status == 200
    await bot.settle()
    assert "Vendor here: we see it on our side too" in await timeline_texts(bot, inc.id)
    assert (await bot.incident(inc.id)).is_shared
    # The same envelope for a workspace we are not installed in is still refused.
    other = partner_message(bot, inc.channel_id, "not for us")
    reply = await bot.slack.event(other, team=PARTNER_TEAM, authorized=(PARTNER_TEAM, None))
    assert reply.status == 200
    await bot.settle()
    assert "not for us" not in await timeline_texts(bot, inc.id)


@pytest.fixture
async def socket_bot(fake: FakeSlack, tmp_path: Path) -> Any:
    settings = load_settings(
        SLACK_BOT_TOKEN="xoxb-test", SLACK_APP_TOKEN="xapp-test", SLACK_API_URL=fake.url,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 's.db'}",
        PLAYBOOKS_DIR=ROOT / "playbooks")
    fh = await build(settings)
    runner, _port = await start_http(fh, 0, host="127.0.0.1", with_events=False)
    handler = await connect_socket_mode(fh)
    await finish_startup(fh)
    yield fh
    await handler.close_async()
    await shutdown(fh, runner)


async def test_socket_mode_applies_the_same_workspace_rule_and_acks_everything(
        fake: FakeSlack, socket_bot: Any) -> None:
    fh = socket_bot
    command = {"channel_id": GENERAL, "user_id": ALICE, "command": "/incident",
               "response_url": fake.response_url(), "trigger_id": fake.new_trigger_id()}
    # A command from another workspace: refused, said so, nothing made.
    ack = await fake.socket_send("slash_commands", {
        **command, "team_id": "T0ELSEWHERE", "text": "declare sev1 Not ours"})
    assert "another Slack workspace" in ack["payload"]["text"]
    assert await fh.background.drain(within=10)
    assert fake.calls_to("conversations.create") == []
    # Our own workspace is served.
    ack = await fake.socket_send("slash_commands", {
        **command, "team_id": TEAM_ID, "text": "declare sev2 Socket incident"})
    assert "Declaring" in ack["payload"]["text"]
    assert await fh.background.drain(within=10)
    [inc] = await fh.service.list_open(include_private=True)

    # A Slack Connect partner's message, over Socket Mode: stored, as over HTTP.
    fake.add_user(PARTNER, "vendor")
    fake.channels[inc.channel_id].shared_with.add(PARTNER_TEAM)
    msg = fake.human_message(inc.channel_id, PARTNER, "Vendor over the socket")
    event = {"type": "message", "channel": inc.channel_id, "user": PARTNER,
             "text": msg.text, "ts": msg.ts, "event_ts": msg.ts, "team": PARTNER_TEAM,
             "channel_type": "channel"}
    envelope = {"team_id": PARTNER_TEAM, "enterprise_id": PARTNER_ORG, "api_app_id": "A0FOG",
                "event": event, "type": "event_callback", "event_id": "Ev0SOCKET01",
                "event_time": int(time.time()), "is_ext_shared_channel": True,
                "authorizations": [{"enterprise_id": None, "team_id": TEAM_ID,
                                    "user_id": BOT_USER_ID, "is_bot": True,
                                    "is_enterprise_install": False}]}
    ack = await fake.socket_send("events_api", envelope)
    assert ack["envelope_id"]
    assert "Vendor over the socket" in [
        e.text for e in await fh.service.timeline.entries(inc.id)]

    # Envelopes no listener takes are acknowledged too (Slack would send them again).
    ack = await fake.socket_send("events_api", {**envelope, "event_id": "Ev0SOCKET02",
                                                "event": {"type": "star_added", "user": ALICE,
                                                          "event_ts": msg.ts}})
    assert ack["envelope_id"]
    ack = await fake.socket_send("interactive", {
        "type": "block_actions", "team": {"id": TEAM_ID}, "user": {"id": ALICE},
        "actions": [{"action_id": "retired_button", "block_id": "old", "type": "button",
                     "value": "1", "action_ts": msg.ts}], "trigger_id": "1.2.3",
        "container": {"type": "message"}, "api_app_id": "A0FOG", "token": "unused"})
    assert ack["envelope_id"]


# ----- 3 and 5. Channels turned private, or renamed ---------------------------------------
async def test_a_channel_turned_private_makes_its_incident_private(bot: Bot) -> None:
    inc, channel = await bot.declare("sev2 Payments flaky")
    assert any("Payments flaky" in a for a in bot.announcements)
    channel.is_private = True  # the channel keeps its id
    convert = {"type": "message", "subtype": "channel_convert_to_private", "user": BOB,
               "text": "made this channel *private*. Now, it can only be viewed or joined "
                       "by invitation.", "ts": f"{time.time():.6f}",
               "channel": inc.channel_id, "event_ts": f"{time.time():.6f}",
               "channel_type": "group"}
    assert (await bot.slack.event(convert)).status == 200
    await bot.slack.event(convert)  # Slack's retry of the same notice: no second entry
    await bot.settle()
    now_private = await bot.incident(inc.id)
    assert now_private.is_private
    # Its declaration in #incidents keeps only its label from now on.
    assert not any("Payments flaky" in a for a in bot.announcements)
    assert any(f"{inc.label} was made private" in a for a in bot.announcements)
    entries = [e for e in await bot.fh.service.timeline.entries(inc.id)
               if e.kind == "channel_changed"]
    assert len(entries) == 1 and "private" in entries[0].text and entries[0].actor == BOB
    before = len(bot.announcements)
    await bot.command("resolve done anyway", channel=inc.channel_id)
    await bot.command("resolve done anyway", channel=inc.channel_id)
    await bot.settle()
    assert (await bot.incident(inc.id)).is_resolved
    assert len(bot.announcements) == before  # the resolution stays in the private channel
    listed = await bot.command("list", user="UOUTSIDER")
    assert "Payments flaky" not in listed


async def test_a_renamed_channel_is_found_by_its_new_name(bot: Bot) -> None:
    inc, channel = await bot.declare("sev3 Slow search")
    channel.name = "inc-search-latency"
    reply = await bot.slack.event({"type": "channel_rename", "channel": {
        "id": inc.channel_id, "name": "inc-search-latency", "created": channel.created}})
    assert reply.status == 200
    await bot.settle()
    assert (await bot.incident(inc.id)).channel_name == "inc-search-latency"
    out = io.StringIO()
    assert await export(bot.fh.settings, "#inc-search-latency", "json", out) == 0
    assert '"title": "Slow search"' in out.getvalue()
    # A private channel's rename arrives as group_rename; Slack's own message too.
    await bot.slack.event({"type": "message", "subtype": "channel_name", "user": ALICE,
                           "old_name": "inc-search-latency", "name": "inc-search",
                           "channel": inc.channel_id, "ts": f"{time.time():.6f}",
                           "text": "renamed the channel"})
    await bot.settle()
    assert (await bot.incident(inc.id)).channel_name == "inc-search"


# ----- 6. app_rate_limited -------------------------------------------------------------------
async def test_app_rate_limited_is_acknowledged_logged_and_counted(bot: Bot) -> None:
    body = {"token": "unused", "type": "app_rate_limited", "team_id": TEAM_ID,
            "minute_rate_limited": int(time.time()) // 60 * 60, "api_app_id": "A0FOG"}
    reply = await bot.slack.post(json.dumps(body).encode(), "application/json")
    assert reply.status == 200
    assert bot.fh.metrics.app_rate_limited._value.get() == 1  # type: ignore[attr-defined]
    # An event nobody listens to, over HTTP: 200, not Bolt's 404.
    reply = await bot.slack.event({"type": "star_added", "user": ALICE,
                                   "event_ts": f"{time.time():.6f}"})
    assert reply.status == 200


# ----- 7. Two organisations in one shared channel ------------------------------------------
async def test_a_command_from_another_organisation_in_a_shared_channel_is_refused(
        grid_bot: Bot) -> None:
    bot, fake = grid_bot, grid_bot.fake
    await install(bot, TEAM_ID, ALICE)
    await install(bot, GRID_TEAM, GRID_USER)
    await bot.command("declare sev2 Shared trouble")
    [inc] = await bot.open_incidents()
    fake.channels[inc.channel_id].shared_with.add(GRID_TEAM)
    fake.channels[inc.channel_id].members.add(GRID_USER)
    calls = len(fake.calls)
    reply = await bot.slack.command("severity sev1", user=GRID_USER, channel=inc.channel_id,
                                    team_id=GRID_TEAM, enterprise_id=ORG)
    assert reply.status == 200 and "another organisation" in reply.text
    await bot.settle()
    assert (await bot.incident(inc.id)).severity == "SEV2"
    assert [c for c in fake.calls[calls:] if c.team == TEAM_ID] == []  # A's token unused
    # A button of A's card, clicked by B's person: refused the same way.
    reply = await bot.slack.click(user=GRID_USER, channel=inc.channel_id,
                                  message_ts=inc.card_ts or "", action_id=ROLE_TAKE,
                                  team=GRID_TEAM, enterprise=ORG)
    await bot.settle()
    assert (await bot.incident(inc.id)).roles == inc.roles
    assert [c for c in fake.calls[calls:] if c.team == TEAM_ID] == []


# ----- 8. Slack's 2025 history limits -------------------------------------------------------
async def test_catch_up_under_the_history_limits_is_complete_and_never_holds_reminders(
        make_bot: BotFactory, fake: FakeSlack, sqlite_url: str) -> None:
    first = await make_bot()
    inc, _ = await first.declare("sev2 Busy channel")
    await first.stop()
    for n in range(40):  # said while Foghorn was down
        fake.human_message(inc.channel_id or "", BOB, f"missed message {n}")
    fake.limit_history(window=1.0, page=15)
    bot = await make_bot()
    stored = [t for t in await timeline_texts(bot, inc.id) if t.startswith("missed")]
    assert len(stored) == 40  # every page, at Slack's pace
    pages = [c for c in fake.calls_to("conversations.history")
             if c.args.get("channel") == inc.channel_id and c.error is None]
    assert len(pages) >= 3 and all(int(c.args["limit"]) >= 15 for c in pages)
    assert any(c.status == 429 for c in fake.calls_to("conversations.history"))
    assert fake.refusals == []


async def test_the_already_posted_check_waits_its_turn_without_holding_others(
        bot: Bot, fake: FakeSlack) -> None:
    inc, _ = await bot.declare("sev2 Reminder check")
    gateway = bot.fh.gateway
    for n in range(40):
        fake.human_message(inc.channel_id or "", BOB, f"chatter {n}")
    fake.limit_history(window=1.0, page=15)
    since = bot.clock() - timedelta(minutes=5)

    def never(meta: dict[str, Any]) -> bool:
        return False

    # Slack's pace leaves room for one page now; the next is a second away, beyond the
    # check's patience: it gives up (its reminder is retried later, others go on) ...
    with pytest.raises(ChatError, match="ratelimited"):
        await gateway.posted_since(inc.channel_id or "", since, never, key="r1",
                                   patience=0.3)
    # ... and each next try goes on below what was already read, so the check ends.
    answers: list[bool | str] = []
    while len(answers) < 6 and answers[-1:] != [False]:
        await asyncio.sleep(1.05)
        try:
            answers.append(await gateway.posted_since(inc.channel_id or "", since, never,
                                                      key="r1", patience=0.3))
        except ChatError as exc:
            answers.append(exc.error)
    assert answers[-1] is False and set(answers[:-1]) <= {"ratelimited"}
    latest = [c.args.get("latest") for c in fake.calls_to("conversations.history")
              if c.error is None and c.args.get("channel") == inc.channel_id]
    assert latest[-1]  # later pages started below the messages already read


async def test_conversations_list_is_asked_for_under_1000_channels(bot: Bot) -> None:
    await bot.declare("sev3 Any")
    lists = bot.fake.calls_to("conversations.list")
    assert lists and all(int(c.args.get("limit") or 0) < 1000 for c in lists)
    assert all(c.error is None for c in lists)


async def test_incidents_keep_their_organisation_across_restarts(grid_bot: Bot) -> None:
    bot = grid_bot
    await install(bot, GRID_TEAM, GRID_USER)
    inc = await grid_declare(bot, "Remember the org")
    async with bot.fh.db.read() as s:
        stored = await s.scalar(select(IncidentRow.enterprise_id)
                                .where(IncidentRow.id == inc.id))
    assert stored == ORG
    assert INCIDENTS_CHANNEL_ID  # (the default workspace's channel is untouched)
    assert not [m for m in bot.fake.channels[INCIDENTS_CHANNEL_ID].messages
                if "Remember the org" in m.text]


async def test_a_resumed_declare_finds_its_announcement_beyond_the_first_page(
        make_bot: BotFactory, fake: FakeSlack, sqlite_url: str) -> None:
    """Under the history limits a page holds 15 messages: the look for an announcement made
    just before a crash reads every page, and the announcement is not made twice."""
    first = await make_bot()
    inc, _ = await first.declare("sev2 Announced then crashed")
    async with first.fh.db.write() as s:  # the crash: the announcement's ts was not stored
        await repo.update_incident(s, inc.id, announcement_ts=None, setup_done=False)
    await first.stop()
    for n in range(20):  # the incidents channel is busy meanwhile
        fake.human_message(INCIDENTS_CHANNEL_ID, BOB, f"other news {n}")
    fake.limit_history(window=1.0, page=15)
    bot = await make_bot(database_url=sqlite_url, clock=first.clock)
    await bot.settle()
    resumed = await bot.incident(inc.id)
    assert resumed.setup_done and resumed.announcement_ts
    assert sum("Announced then crashed" in a for a in bot.announcements) == 1
