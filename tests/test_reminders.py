"""Update reminders, IC nudges, escalation and postmortem reminders, on a moved clock."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bot.playbooks import PlaybookError
from bot.slack import blocks
from bot.store import entry_rows, reminder_rows
from bot.testing.fake_slack import INCIDENTS_CHANNEL_ID, FakeSlack
from tests.conftest import ALICE, BOB, CAROL, DAN, ROOT, Bot, BotFactory

DEFAULT = yaml.safe_load((ROOT / "playbooks" / "default.yml").read_text())


def said(bot: Bot, channel: str, start: str) -> list[str]:
    return [m.text for m in bot.fake.channels[channel].messages if m.text.startswith(start)]


def last_reminder(bot: Bot, channel: str, start: str = "Reminder:"):
    return [m for m in bot.fake.channels[channel].messages if m.text.startswith(start)][-1]


async def at(bot: Bot, inc, minutes: float) -> int:
    """Move the clock to `minutes` after the declaration and fire what is due."""
    bot.clock.now = inc.declared_at + timedelta(minutes=minutes)
    return await bot.fire_due()


async def test_first_reminder_is_due_update_every_after_the_declaration(bot: Bot) -> None:
    inc, channel = await bot.declare("sev1 Checkout down")
    await bot.command("role ic me", user=BOB, channel=inc.channel_id)
    await at(bot, inc, 29.9)
    assert said(bot, inc.channel_id, "Reminder:") == []
    await at(bot, inc, 30)
    [reminder] = said(bot, inc.channel_id, "Reminder:")
    assert "30m since the last update on INC-1" in reminder
    assert "(SEV1 updates are due every 30m)" in reminder and f"<@{BOB}>" in reminder
    msg = channel.messages[-1]
    actions = [e["action_id"] for b in msg.blocks if b["type"] == "actions"
               for e in b["elements"]]
    assert actions == [blocks.REMINDER_UPDATE, blocks.snooze_action_id(30),
                       blocks.snooze_action_id(60)]
    assert msg.metadata["event_payload"]["reminder_id"] > 0


async def test_mentions_comms_lead_then_ic_then_declarer(bot: Bot) -> None:
    inc, _ = await bot.declare("sev1 Who gets pinged")
    await at(bot, inc, 30)
    assert f"<@{ALICE}>, please post" in said(bot, inc.channel_id, "Reminder:")[-1]
    await bot.command("role ic me", user=BOB, channel=inc.channel_id)
    await at(bot, inc, 60)
    assert f"<@{BOB}>, please post" in said(bot, inc.channel_id, "Reminder:")[-1]
    await bot.command("role comms me", user=CAROL, channel=inc.channel_id)
    await at(bot, inc, 90)
    assert f"<@{CAROL}>, please post" in said(bot, inc.channel_id, "Reminder:")[-1]


async def test_an_update_resets_the_clock(bot: Bot) -> None:
    inc, _ = await bot.declare("sev1 Reset me")
    await at(bot, inc, 20)
    await bot.command("update identified found it", user=BOB, channel=inc.channel_id)
    await at(bot, inc, 30)
    assert said(bot, inc.channel_id, "Reminder:") == []
    await at(bot, inc, 50)
    [reminder] = said(bot, inc.channel_id, "Reminder:")
    assert "30m since the last update" in reminder


async def test_no_pile_up_after_downtime(bot: Bot) -> None:
    inc, _ = await bot.declare("sev1 Nobody home")
    await at(bot, inc, 185)  # six periods missed
    assert len(said(bot, inc.channel_id, "Reminder:")) == 1
    assert "3h 5m since the last update" in said(bot, inc.channel_id, "Reminder:")[0]
    await at(bot, inc, 214)
    assert len(said(bot, inc.channel_id, "Reminder:")) == 1
    await at(bot, inc, 215)  # then on the cadence again
    assert len(said(bot, inc.channel_id, "Reminder:")) == 2


async def test_severity_change_replans(bot: Bot) -> None:
    inc, _ = await bot.declare("sev3 Slowly worse")
    await at(bot, inc, 60)
    await bot.command("severity sev1", channel=inc.channel_id)
    await at(bot, inc, 60)  # max(now, last update + 30m) = now
    assert len(said(bot, inc.channel_id, "Reminder:")) == 1
    await bot.command("update identified on it", channel=inc.channel_id)
    # Lowering SEV1 asks for a click first (test_forgiving); here it is given.
    await bot.fh.service.change_severity(inc.channel_id, "sev3", ALICE, confirmed=True)
    await bot.settle()
    await at(bot, inc, 60 + 239)
    assert len(said(bot, inc.channel_id, "Reminder:")) == 1
    await at(bot, inc, 60 + 240)
    assert len(said(bot, inc.channel_id, "Reminder:")) == 2
    await bot.command("severity sev4", channel=inc.channel_id)  # no cadence at all
    await at(bot, inc, 60 * 24)
    assert len(said(bot, inc.channel_id, "Reminder:")) == 2


async def test_resolve_silences_everything(bot: Bot) -> None:
    inc, channel = await bot.declare("sev2 Quick fix")
    await at(bot, inc, 5)
    await bot.command("resolve fixed", channel=inc.channel_id)
    before = len(channel.messages)
    await at(bot, inc, 60 * 47)
    assert len(channel.messages) == before
    async with bot.fh.db.read() as s:
        pending = await reminder_rows.pending_reminders(s, inc.id)
    assert [r.kind for r in pending] == ["postmortem"]


async def test_snooze_and_its_bad_input(bot: Bot) -> None:
    inc, _ = await bot.declare("sev1 Snoozy")
    await at(bot, inc, 30)
    reminder = last_reminder(bot, inc.channel_id)
    click = {"user": BOB, "channel": inc.channel_id, "message_ts": reminder.ts,
             "action_id": blocks.snooze_action_id(60)}
    await bot.slack.click(**click)
    await bot.settle()
    assert ":zzz: <@UBOB> snoozed update reminders until" in (
        bot.fake.channels[inc.channel_id].messages[-1].text)
    await bot.slack.click(**click)  # twice
    await bot.settle()
    assert "already quiet until" in bot.fake.responses[-1]["text"]
    async with bot.fh.db.read() as s:
        snoozes = [e for e in await entry_rows.list_entries(s, inc.id) if e.kind == "snoozed"]
    assert len(snoozes) == 1 and snoozes[0].actor == BOB
    await at(bot, inc, 89)
    assert len(said(bot, inc.channel_id, "Reminder:")) == 1
    await at(bot, inc, 90)
    assert len(said(bot, inc.channel_id, "Reminder:")) == 2

    await bot.command("resolve done", channel=inc.channel_id)
    await bot.slack.click(**click)
    await bot.settle()
    assert "already resolved" in bot.fake.responses[-1]["text"]


async def test_post_update_button_opens_a_modal_that_posts_the_update(bot: Bot) -> None:
    inc, channel = await bot.declare("sev1 Modal update")
    await at(bot, inc, 30)
    reminder = last_reminder(bot, inc.channel_id)
    await bot.slack.click(user=CAROL, channel=inc.channel_id, message_ts=reminder.ts,
                          action_id=blocks.REMINDER_UPDATE)
    await bot.settle()
    [opened] = bot.fake.calls_to("views.open")
    view = opened.args["view"]
    assert view["callback_id"] == blocks.UPDATE_MODAL
    empty = await bot.slack.submit_view(user=CAROL, view=view, values={
        "status": {"type": "static_select", "selected_option": {"value": "identified"}},
        "message": {"type": "plain_text_input", "value": "  "}})
    assert empty.json()["response_action"] == "errors"
    await bot.slack.submit_view(user=CAROL, view=view, values={
        "status": {"type": "static_select", "selected_option": {"value": "identified"}},
        "message": {"type": "plain_text_input", "value": "Cache node replaced"}})
    await bot.settle()
    assert any("*What we know:* Cache node replaced" in m.text for m in channel.messages)
    assert (await bot.incident(inc.id)).status == "identified"
    await at(bot, inc, 59)  # the update moved the next reminder to 30 + 30
    assert len(said(bot, inc.channel_id, "Reminder:")) == 1


async def test_commander_nudges_once_and_again_then_stop(bot: Bot) -> None:
    inc, _ = await bot.declare("sev1 Leaderless")
    await at(bot, inc, 14)
    assert said(bot, inc.channel_id, ":wave:") == []
    await at(bot, inc, 15)
    [nudge] = said(bot, inc.channel_id, ":wave:")
    assert f"<@{ALICE}>" in nudge and "after 15m" in nudge
    await at(bot, inc, 30)
    assert len(said(bot, inc.channel_id, ":wave:")) == 2
    await at(bot, inc, 120)
    assert len(said(bot, inc.channel_id, ":wave:")) == 2


async def test_nudge_stays_silent_once_an_ic_is_assigned(bot: Bot) -> None:
    inc, _ = await bot.declare("sev1 Led")
    await at(bot, inc, 10)
    await bot.command("role ic me", user=BOB, channel=inc.channel_id)
    await at(bot, inc, 40)
    assert said(bot, inc.channel_id, ":wave:") == []


async def test_escalation_posts_and_notifies_targets(make_bot: BotFactory, fake: FakeSlack,
                                                     tmp_path: Path) -> None:
    pb = json.loads(json.dumps(DEFAULT))
    pb["severities"][0]["escalation"] = [
        {"after": "15m", "notify": ["#incidents", DAN, "S0ONCALL"], "note": "Page the CTO."}]
    (tmp_path / "default.yml").write_text(yaml.safe_dump(pb))
    fake.usergroups["S0ONCALL"] = {"handle": "oncall", "users": {CAROL}}
    bot = await make_bot(playbooks=tmp_path)
    inc, _ = await bot.declare("sev1 Escalate me")
    await at(bot, inc, 14)
    assert said(bot, inc.channel_id, ":rotating_light: Escalation") == []
    await at(bot, inc, 15)
    [esc] = said(bot, inc.channel_id, ":rotating_light: Escalation")
    assert "still open after 15m" in esc and "<!subteam^S0ONCALL>" in esc
    assert f"<@{DAN}>" in esc and "Page the CTO." in esc
    notices = [m.text for m in bot.fake.channels[INCIDENTS_CHANNEL_ID].messages
               if "*Escalation:*" in m.text]
    assert len(notices) == 1 and f"<#{inc.channel_id}>" in notices[0]
    [dm] = bot.fake.messages_in("D" + DAN)
    assert "*Escalation:*" in dm.text


async def test_escalation_is_silent_after_resolve(bot: Bot) -> None:
    inc, _ = await bot.declare("sev1 Fixed fast")
    await at(bot, inc, 10)
    await bot.command("resolve fixed", channel=inc.channel_id)
    await at(bot, inc, 20)
    assert said(bot, inc.channel_id, ":rotating_light: Escalation") == []


async def test_postmortem_reminder_repeats_until_marked_done_not_just_drafted(bot: Bot
                                                                              ) -> None:
    inc, _ = await bot.declare("sev1 Needs a postmortem")
    await bot.command("role ic me", user=BOB, channel=inc.channel_id)
    await at(bot, inc, 10)
    await bot.command("resolve fixed", user=BOB, channel=inc.channel_id)
    resolved = 10
    await at(bot, inc, resolved + 48 * 60 - 1)
    assert said(bot, inc.channel_id, "Reminder: the postmortem") == []
    await at(bot, inc, resolved + 48 * 60)
    [first] = said(bot, inc.channel_id, "Reminder: the postmortem")
    assert "postmortem for INC-1" in first and f"<@{BOB}>" in first
    await at(bot, inc, resolved + 72 * 60)
    assert len(said(bot, inc.channel_id, "Reminder: the postmortem")) == 2
    reminder = last_reminder(bot, inc.channel_id, "Reminder: the postmortem")
    await bot.slack.click(user=BOB, channel=inc.channel_id, message_ts=reminder.ts,
                          action_id=blocks.POSTMORTEM_BUILD)
    await bot.settle()
    assert bot.fake.files  # the draft was built and uploaded
    # A draft is not a postmortem: the next reminder points at it and offers "Mark done" first.
    await at(bot, inc, resolved + 96 * 60)
    third = last_reminder(bot, inc.channel_id, "Reminder: the postmortem")
    assert "has a draft from" in third.text and "not marked done" in third.text
    buttons = [e["action_id"] for e in third.blocks[1]["elements"]]
    assert buttons == [blocks.POSTMORTEM_DONE, blocks.POSTMORTEM_BUILD]
    await bot.command("postmortem done", user=BOB, channel=inc.channel_id)
    assert said(bot, inc.channel_id, f":white_check_mark: <@{BOB}> marked the postmortem "
                                     "for INC-1 done")
    await at(bot, inc, resolved + 200 * 60)
    assert len(said(bot, inc.channel_id, "Reminder: the postmortem")) == 3
    assert (await bot.incident(inc.id)).postmortem_done_at is not None


async def test_mark_done_stops_postmortem_reminders(bot: Bot) -> None:
    inc, _ = await bot.declare("sev2 Written elsewhere")
    await at(bot, inc, 10)
    await bot.command("resolve fixed", channel=inc.channel_id)
    await at(bot, inc, 10 + 48 * 60)
    reminder = last_reminder(bot, inc.channel_id, "Reminder: the postmortem")
    await bot.slack.click(user=BOB, channel=inc.channel_id, message_ts=reminder.ts,
                          action_id=blocks.POSTMORTEM_DONE)
    await bot.settle()
    await bot.slack.click(user=BOB, channel=inc.channel_id, message_ts=reminder.ts,
                          action_id=blocks.POSTMORTEM_DONE)
    await bot.settle()
    assert "already marked done" in bot.fake.responses[-1]["text"]
    await at(bot, inc, 10 + 100 * 60)
    assert len(said(bot, inc.channel_id, "Reminder: the postmortem")) == 1


async def test_postmortem_done_needs_a_resolved_incident_and_its_channel(bot: Bot) -> None:
    inc, _ = await bot.declare("sev2 Still burning")
    await bot.command("postmortem done", channel=inc.channel_id)
    await bot.settle()
    assert "still open: resolve it before" in bot.fake.responses[-1]["text"]
    assert (await bot.incident(inc.id)).postmortem_done_at is None
    await bot.command("postmortem done", channel="C0GENERAL")
    await bot.settle()
    assert "inside an incident channel" in bot.fake.responses[-1]["text"]
    reply = await bot.command("postmortem finsihed", channel=inc.channel_id)
    assert "Unknown `postmortem finsihed`" in reply and "postmortem done" in reply


async def test_no_postmortem_reminder_where_none_is_required(bot: Bot) -> None:
    inc, _ = await bot.declare("sev3 Minor")
    await bot.command("resolve fixed", channel=inc.channel_id)
    await at(bot, inc, 60 * 24 * 5)
    assert said(bot, inc.channel_id, "Reminder: the postmortem") == []


async def test_restart_fires_overdue_reminders_once(make_bot: BotFactory, sqlite_url: str
                                                    ) -> None:
    bot = await make_bot()
    inc, _ = await bot.declare("sev1 While we were away")
    await bot.command("role ic me", user=BOB, channel=inc.channel_id)
    await bot.stop()
    bot.clock.now = inc.declared_at + timedelta(minutes=95)
    restarted = await make_bot(database_url=sqlite_url, clock=bot.clock, schedule=True)
    assert len(said(restarted, inc.channel_id, "Reminder:")) == 1
    again = await make_bot(database_url=sqlite_url, clock=bot.clock, schedule=True)
    await again.fire_due()
    assert len(said(again, inc.channel_id, "Reminder:")) == 1


async def test_a_claim_whose_owner_died_after_posting_is_not_posted_again(bot: Bot) -> None:
    inc, _ = await bot.declare("sev1 Crash mid-send")
    await bot.command("role ic me", user=BOB, channel=inc.channel_id)
    bot.clock.now = inc.declared_at + timedelta(minutes=30)
    # Another process claims the reminder and posts it, then dies before recording it.
    async with bot.fh.db.write() as s:
        [r] = [c for c in await reminder_rows.claim_due(s, bot.clock(), "dead-replica",
                                               timedelta(minutes=5), 10) if c.kind == "update"]
    await bot.fh.service.fire_reminder(r)
    assert len(said(bot, inc.channel_id, "Reminder:")) == 1
    bot.clock.now += timedelta(minutes=6)  # its lease runs out
    assert await bot.fire_due() >= 1
    assert len(said(bot, inc.channel_id, "Reminder:")) == 1
    async with bot.fh.db.read() as s:
        pending = await reminder_rows.pending_reminders(s, inc.id, ("update",))
    assert len(pending) == 1  # and the cadence goes on


async def test_all_due_reminders_are_sent_through_rate_limits(bot: Bot) -> None:
    incidents = [(await bot.declare(f"sev1 Busy {i}"))[0] for i in range(30)]
    bot.fake.fail("chat.postMessage", status=429, retry_after=1, times=5)
    bot.clock.now = incidents[-1].declared_at + timedelta(minutes=30)
    await bot.fire_due()
    for inc in incidents:
        assert len(said(bot, inc.channel_id, "Reminder:")) == 1, inc.label


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda s: s.update(update_every="0m"), "'0m' must be longer than zero"),
    (lambda s: s.update(update_every="-5m"), "is not a duration"),
    (lambda s: s.update(escalation=[{"after": "5m", "notify": ["bob"]}]),
     "'bob' is not a target"),
])
def test_bad_reminder_settings_in_the_playbook(mutate, expected: str) -> None:
    from bot.playbooks import parse_playbook

    pb = json.loads(json.dumps(DEFAULT))
    mutate(pb["severities"][0])
    with pytest.raises(PlaybookError) as err:
        parse_playbook(yaml.safe_dump(pb), "pb.yml")
    assert "pb.yml: severities[0]" in str(err.value) and expected in str(err.value)


async def test_an_escalation_target_that_does_not_exist_stops_start_up(
    make_bot: BotFactory, tmp_path: Path
) -> None:
    pb = json.loads(json.dumps(DEFAULT))
    pb["severities"][1]["escalation"] = [{"after": "1h", "notify": ["#incidents", "UNOBODY"]}]
    (tmp_path / "default.yml").write_text(yaml.safe_dump(pb))
    with pytest.raises(PlaybookError) as err:
        await make_bot(playbooks=tmp_path)
    assert str(err.value) == (f"{tmp_path}/default.yml: severities[1].escalation[0].notify[1]: "
                              "UNOBODY does not exist in this workspace")


async def test_real_reminders_arrive_on_time(make_bot: BotFactory, tmp_path: Path) -> None:
    """No moved clock here: the scheduler wakes the dispatcher for real, second by second."""
    from datetime import UTC, datetime

    from bot.incidents.timeline import ts_to_datetime
    from tests.conftest import Clock

    pb = json.loads(json.dumps(DEFAULT))
    pb["severities"][0].update(response_time="2s", update_every="4s", escalation=[])
    (tmp_path / "default.yml").write_text(yaml.safe_dump(pb))

    class RealClock(Clock):
        def __call__(self) -> datetime:
            return datetime.now(UTC)

    bot = await make_bot(playbooks=tmp_path, clock=RealClock(), schedule=True)
    inc, _ = await bot.declare("sev1 Fast cadence")
    await bot.command("role ic me", user=BOB, channel=inc.channel_id)
    for _ in range(80):
        if said(bot, inc.channel_id, "Reminder:"):
            break
        await asyncio.sleep(0.1)
    reminder = last_reminder(bot, inc.channel_id)
    late = ts_to_datetime(reminder.ts) - (inc.declared_at + timedelta(seconds=4))
    assert timedelta(0) <= late < timedelta(seconds=1), late
    assert "4s since the last update" in reminder.text


async def test_sigterm_lets_a_reminder_run_in_progress_finish(
        make_bot: BotFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """#24 item 9: shutdown cancelled a reminder run in progress (APScheduler cancels its
    running jobs): an ERROR traceback and the row left claimed."""
    import logging
    from datetime import UTC, datetime

    from sqlalchemy import select

    from bot.store.tables import ReminderRow
    from tests.conftest import Clock

    pb = json.loads(json.dumps(DEFAULT))
    pb["severities"][0].update(response_time="1s", escalation=[])
    (tmp_path / "default.yml").write_text(yaml.safe_dump(pb))

    class RealClock(Clock):
        def __call__(self) -> datetime:
            return datetime.now(UTC)

    caplog.set_level(logging.INFO)
    bot = await make_bot(playbooks=tmp_path, clock=RealClock(), schedule=True)
    inc, _ = await bot.declare("sev1 Stopping mid-run")
    bot.fake.delay("chat.postMessage", 2.0)  # the nudge's post takes a while

    async def nudges() -> list[str]:
        async with bot.fh.db.read() as s:
            return list(await s.scalars(select(ReminderRow.status).where(
                ReminderRow.incident_id == inc.id, ReminderRow.kind == "ic_nudge")
                .order_by(ReminderRow.id)))

    for _ in range(100):
        if "claimed" in await nudges():
            break
        await asyncio.sleep(0.05)
    assert (await nudges())[0] == "claimed"
    await bot.stop()  # SIGTERM's shutdown, while the nudge is being posted
    statuses = await nudges()
    assert statuses[0] == "sent" and "claimed" not in statuses
    # Each nudge posted is a row recorded as sent (a nudge repeats while nobody is IC).
    assert len(said(bot, inc.channel_id, ":wave:")) == statuses.count("sent")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if "maximum number of running instances"
                in r.getMessage()]
