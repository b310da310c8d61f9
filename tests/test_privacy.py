"""Private stays private, and a click acts only where it was made (over signed HTTP).

Every payload here is validly signed: the guarantees must hold even when Slack itself
delivers a click from another channel, a form naming another incident, or a request from
another workspace.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.incidents.service import NOT_HERE
from bot.slack import blocks
from bot.store import checklist_rows, entry_rows, reminder_rows, repo
from bot.testing.fake_slack import BOT_USER_ID, INCIDENTS_CHANNEL_ID, TEAM_ID, FakeSlack
from tests.conftest import ALICE, BOB, CAROL, DAN, GENERAL, ROOT, SECRET, Bot, BotFactory
from tests.test_checklists import tick
from tests.test_reminders import at

DEFAULT = yaml.safe_load((ROOT / "playbooks" / "default.yml").read_text())
TITLE = "Payroll data leak"


def _outside(bot: Bot, channel: str) -> list[str]:
    return [m.text for m in bot.fake.channels[channel].messages]


async def _playbook(tmp_path: Path, **changes: Any) -> Path:
    pb = json.loads(json.dumps(DEFAULT))
    pb["severities"][0]["escalation"] = [
        {"after": "15m", "notify": ["#incidents", "#security-leads", DAN, "S0ONCALL"]}]
    pb["severities"][0]["notify"] = ["#incidents", "#security-leads", "S0ONCALL"]
    pb.update(changes)
    (tmp_path / "default.yml").write_text(yaml.safe_dump(pb))
    return tmp_path


async def test_private_escalations_and_notices_never_reach_a_channel_outside(
        make_bot: BotFactory, fake: FakeSlack, tmp_path: Path) -> None:
    fake.usergroups["S0ONCALL"] = {"handle": "oncall", "users": {CAROL}}
    leads = fake.add_channel("security-leads", members={BOT_USER_ID})
    bot = await make_bot(playbooks=await _playbook(tmp_path))
    inc, channel = await bot.declare(f"sev1 --private {TITLE}")
    await bot.declare("sev1 Checkout down", user=BOB)
    await at(bot, inc, 15)
    for outside in (INCIDENTS_CHANNEL_ID, leads.id):
        said = "\n".join(_outside(bot, outside))
        assert TITLE not in said and inc.channel_id not in said and inc.label not in said
        assert "Checkout down" in said  # the public one is told everywhere
    [dm] = [m.text for m in bot.fake.messages_in("D" + DAN) if inc.label in m.text]
    assert "*Escalation:*" in dm  # people hear by DM
    inside = [m.text for m in channel.messages if m.text.startswith(":rotating_light: Esc")]
    assert inside and "<!subteam^S0ONCALL>" in inside[0]  # groups, inside its own channel


async def test_a_channel_the_playbook_clears_for_private_incidents_hears_of_them(
        make_bot: BotFactory, fake: FakeSlack, tmp_path: Path) -> None:
    fake.usergroups["S0ONCALL"] = {"handle": "oncall", "users": {CAROL}}
    leads = fake.add_channel("security-leads", members={BOT_USER_ID})
    bot = await make_bot(playbooks=await _playbook(
        tmp_path, private_channels=["#security-leads"]))
    inc, _ = await bot.declare(f"sev1 --private {TITLE}")
    await at(bot, inc, 15)
    told = "\n".join(_outside(bot, leads.id))
    assert told.count(TITLE) == 2  # the declare notice and the escalation
    assert TITLE not in "\n".join(_outside(bot, INCIDENTS_CHANNEL_ID))


def _elements(messages: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], str]]:
    """(interactive element, its block_id) for every element in these blocks."""
    for msg in messages:
        for block in msg.get("blocks") or []:
            for el in [*(block.get("elements") or []), block.get("accessory")]:
                if isinstance(el, dict) and el.get("action_id"):
                    yield el, block.get("block_id", "")


async def _state(bot: Bot, incident_id: int) -> tuple[Any, ...]:
    async with bot.fh.db.read() as s:
        inc = await repo.get_incident(s, incident_id)
        entries = await entry_rows.list_entries(s, incident_id)
        reminders = await reminder_rows.pending_reminders(s, incident_id)
        ticks = [(r.checklist_id, list(r.ticked))
                 for r in await checklist_rows.posts_of(s, incident_id)]
    return inc, len(entries), [(r.kind, r.due_at) for r in reminders], ticks


def _click(bot: Bot, el: dict[str, Any], block_id: str, *, user: str, channel: str,
           key: str) -> dict[str, Any]:
    action: dict[str, Any] = {"action_id": el["action_id"], "block_id": block_id,
                              "type": el["type"], "action_ts": f"{time.time():.6f}"}
    if el["type"] == "button":
        action |= {"text": el["text"], "value": el.get("value", "")}
    elif el["type"] == "users_select":
        action["selected_user"] = user
    elif el["type"] == "checkboxes":
        action["selected_options"] = el["options"]
    ch = bot.fake.channels[channel]
    return {"type": "block_actions", "user": {"id": user, "username": user.lower(),
                                              "name": user.lower(), "team_id": TEAM_ID},
            "api_app_id": "A0FOGHORN", "token": "verification-token-unused",
            "container": {"type": "message", "message_ts": "1700000000.000100",
                          "channel_id": channel, "is_ephemeral": False},
            "trigger_id": bot.fake.new_trigger_id(), "team": {"id": TEAM_ID, "domain": "fh"},
            "enterprise": None, "is_enterprise_install": False,
            "channel": {"id": channel, "name": ch.name},
            "message": {"type": "message", "ts": "1700000000.000100", "user": BOT_USER_ID,
                        "text": "", "blocks": []},
            "state": {"values": {}}, "response_url": bot.fake.response_url(key, "actions"),
            "actions": [action]}


async def test_every_action_and_form_is_refused_outside_its_incidents_channel(
        bot: Bot) -> None:
    """The matrix: every interactive element the bot renders for a private incident (card,
    checklists, reminders, the resolve question), and every form, replayed with a valid
    signature from #general and from a non-member: refused, and nothing changes."""
    inc, channel = await bot.declare(f"sev1 --private {TITLE}")
    await bot.command("update monitoring rolled back", channel=inc.channel_id)
    await tick(bot, ALICE, inc, "validation", {0})
    await bot.settle()
    await bot.command("resolve done", channel=inc.channel_id)  # asks first: a question
    await bot.command("severity p2", channel=inc.channel_id)  # and another
    await at(bot, inc, 30)  # an update reminder with its buttons
    posted = [{"blocks": m.blocks} for m in channel.messages]
    elements = [*_elements(posted), *_elements(bot.fake.responses)]
    ids = {el["action_id"] for el, _ in elements}
    assert ids >= {blocks.ROLE_TAKE, blocks.ROLE_PICK, blocks.CHECKLIST_TICK,
                   blocks.RESOLVE_CONFIRM, blocks.SEVERITY_CONFIRM, blocks.REMINDER_UPDATE,
                   blocks.snooze_action_id(30),
                   blocks.snooze_action_id(60)}
    before = await _state(bot, inc.id)
    views_before = len(bot.fake.views)
    refused = 0
    for n, (el, block_id) in enumerate(elements):
        for user, where in ((DAN, GENERAL), (ALICE, GENERAL), (DAN, inc.channel_id)):
            key = f"matrix{n}{user}{where}"
            reply = await bot.slack.interaction(_click(bot, el, block_id, user=user,
                                                       channel=where, key=key))
            assert reply.status == 200
            await bot.settle()
            answers = [r["text"] for r in bot.fake.responses if r["key"] == key]
            assert answers == [NOT_HERE], (el["action_id"], user, where, answers)
            refused += 1
    # The update form, naming the private incident's channel, submitted by a non-member.
    modal = bot.fh.presenter.update_modal(inc)
    await bot.slack.submit_view(user=DAN, view=modal, values={
        "status": {"type": "static_select", "selected_option": {"value": "identified"}},
        "message": {"type": "plain_text_input", "value": "I should not be able to say this"}})
    await bot.settle()
    assert any(NOT_HERE in m.text for m in bot.fake.messages_in("D" + DAN))
    refused += 1
    assert await _state(bot, inc.id) == before
    assert len(bot.fake.views) == views_before  # no modal showed the private title
    assert TITLE not in json.dumps([r for r in bot.fake.responses if "matrix" in r["key"]])
    assert refused == len(elements) * 3 + 1
    # Resolved, its postmortem reminder's buttons are refused the same way.
    await bot.command("resolve done anyway", channel=inc.channel_id)
    [confirm] = [el for el, _ in _elements(bot.fake.responses[-1:])
                 if el["action_id"] == blocks.RESOLVE_CONFIRM]
    await bot.slack.interaction(_click(bot, confirm, "c", user=ALICE, channel=inc.channel_id,
                                       key="legit"))
    await bot.settle()
    await at(bot, inc, 60 * 50)
    reminder = channel.messages[-1]
    assert reminder.text.startswith("Reminder: the postmortem")
    before = await _state(bot, inc.id)
    for el, block_id in _elements([{"blocks": reminder.blocks}]):
        key = f"pm{el['action_id']}"
        await bot.slack.interaction(_click(bot, el, block_id, user=DAN, channel=GENERAL,
                                           key=key))
        await bot.settle()
        assert [r["text"] for r in bot.fake.responses if r["key"] == key] == [NOT_HERE]
        refused += 1
    assert await _state(bot, inc.id) == before and not bot.fake.files
    assert refused == len(elements) * 3 + 3  # 15 elements × 3 places, 1 form, 2 buttons
    logging.getLogger(__name__).info("action matrix: %d elements, %d refusals",
                                     len(elements), refused)


async def test_the_same_clicks_still_work_in_the_incidents_own_channel(bot: Bot) -> None:
    inc, _ = await bot.declare(f"sev1 --private {TITLE}")
    await bot.slack.click(user=ALICE, channel=inc.channel_id, message_ts=inc.card_ts,
                          action_id=blocks.ROLE_TAKE, block_id=blocks.role_block_id(inc.id, "ic"))
    await bot.settle()
    assert (await bot.incident(inc.id)).roles.get("ic") == ALICE


async def test_titles_stay_text_in_the_channel_topic(bot: Bot) -> None:
    typed = "<!here> <@UBOB> <!subteam^S0ONCALL|@oncall> <https://evil.example|click> & co"
    await bot.command("declare")  # the modal: its inputs arrive exactly as typed
    view = bot.fake.calls_to("views.open")[-1].args["view"]
    await bot.slack.submit_view(user=ALICE, view=view, values={
        "title": {"type": "plain_text_input", "value": typed},
        "severity": {"type": "static_select", "selected_option": {"value": "SEV2"}}})
    await bot.settle()
    [inc] = await bot.open_incidents()
    topic = bot.fake.channels[inc.channel_id].topic
    assert "&lt;!here&gt;" in topic and "&amp; co" in topic
    for live in ("<!here>", "<@UBOB>", "<!subteam", "<https://"):
        assert live not in topic
    await bot.command("role ic me", user=BOB, channel=inc.channel_id)  # the topic again
    assert "<!here>" not in bot.fake.channels[inc.channel_id].topic


async def test_token_mode_refuses_requests_from_another_workspace(bot: Bot) -> None:
    reply = await bot.slack.command("list", user=ALICE, channel=GENERAL, team_id="T0OTHER")
    assert reply.status == 200 and "belongs to another Slack workspace" in reply.text
    reply = await bot.slack.command("declare sev1 Not here", user=ALICE, channel=GENERAL,
                                    team_id="T0OTHER")
    await bot.settle()
    assert await bot.open_incidents() == []
    assert not bot.fake.calls_to("conversations.create")
    inc, _ = await bot.declare("sev2 Home incident")
    msg = bot.fake.human_message(inc.channel_id, BOB, "from elsewhere")
    reply = await bot.slack.event(bot.slack.message_event(inc.channel_id, msg), team="T0OTHER")
    assert reply.status == 200
    async with bot.fh.db.read() as s:
        assert not [e for e in await entry_rows.list_entries(s, inc.id) if e.slack_ts]
    assert bot.fh.metrics.rejected.labels("other_workspace")._value.get() == 3
    # Enterprise Grid: another workspace of the token's own organisation is served.
    bot.fh.gateway._identity = {**(await bot.fh.gateway.identity()), "enterprise_id": "E0ORG"}
    reply = await bot.slack.command("list", user=ALICE, channel=GENERAL, team_id="T0SISTER",
                                    enterprise_id="E0ORG")
    assert "Home incident" in reply.text


async def test_credentials_never_reach_debug_logs(bot: Bot, caplog: pytest.LogCaptureFixture
                                                 ) -> None:
    caplog.set_level(logging.DEBUG)
    await bot.command("declare sev2 Debug me")
    inc = (await bot.open_incidents())[0]
    await bot.command("update identified found it", channel=inc.channel_id)
    await bot.slack.click(user=ALICE, channel=inc.channel_id, message_ts=inc.card_ts,
                          action_id=blocks.ROLE_TAKE, block_id=blocks.role_block_id(inc.id, "ic"))
    await bot.settle()
    async with bot.session.get(f"{bot.url}/slack/oauth_redirect?code=9876.5432.secretcode"
                               "&state=x") as r:
        assert r.status in (404, 405)  # token mode serves no OAuth, but the URL is logged
    logged = "\n".join(r.getMessage() for r in caplog.records)
    secrets = [r["key"] for r in bot.fake.responses] + ["9876.5432.secretcode", SECRET,
                                                        "xoxb-test-token"]
    assert any("Sending a request" in r.getMessage() for r in caplog.records)
    for secret in secrets:
        assert secret not in logged, secret


async def test_healthz_keeps_database_details_in_the_log(bot: Bot,
                                                         caplog: pytest.LogCaptureFixture
                                                         ) -> None:
    bad = str(Path(bot.fh.settings.DATABASE_URL.split(":///", 1)[1]).parent / "gone" / "x.db")

    async def broken() -> None:
        raise OSError(f"unable to open database file {bad}")

    bot.fh.db.ping = broken  # type: ignore[method-assign]
    async with bot.session.get(f"{bot.url}/healthz") as r:
        assert r.status == 503
        assert await r.json() == {"ok": False, "reason": "database unavailable"}
    assert bad in caplog.text


def test_log_level_is_a_setting() -> None:
    from bot.config import ConfigError, load_settings

    assert load_settings(LOG_LEVEL="debug").LOG_LEVEL == "DEBUG"
    with pytest.raises(ConfigError, match="LOG_LEVEL"):
        load_settings(LOG_LEVEL="chatty")


async def test_a_reminder_for_an_old_incident_still_fits(bot: Bot) -> None:
    """Incidents stored before the title limit are clipped wherever they are shown."""
    inc, _ = await bot.declare("sev1 Short")
    async with bot.fh.db.write() as s:
        await repo.update_incident(s, inc.id, title="x" * 41_000)
    bot.clock.now += timedelta(minutes=30)
    await bot.fire_due()
    await bot.command("update identified still fine", channel=inc.channel_id)
    texts = [m.text for m in bot.fake.channels[inc.channel_id].messages]
    assert any(t.startswith("Reminder:") for t in texts)
    assert any("still fine" in t for t in texts)  # (the fixture: Slack refused nothing)
