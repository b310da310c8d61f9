"""`foghorn demo`: the real bot against the fake Slack, playing a scripted incident.

Nothing to configure and no workspace needed: it starts the fake Slack Web API and the bot
(HTTP mode, a throw-away SQLite database) in one process, sends signed requests as Slack
would, and prints the Slack side as a transcript as it happens.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

import aiohttp

from bot.app import build, finish_startup, shutdown, start_http
from bot.config import SHIPPED_PLAYBOOKS, load_settings
from bot.foghorn import Foghorn
from bot.incidents.timeline import ts_to_datetime
from bot.slack import blocks
from bot.testing.fake_slack import Channel, FakeSlack, Message
from bot.testing.slack_requests import SlackSender
from bot.testing.transcript import readable, render_message

PEOPLE = {"UALICE": "alice", "UBOB": "bob", "UCAROL": "carol", "UDAN": "dan"}
ALERTS_TOKEN = secrets.token_hex(16)
GENERAL = "C0GENERAL"


class Transcript:
    def __init__(self, fake: FakeSlack, out: TextIO) -> None:
        self.fake = fake
        self.out = out

    def line(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def on_message(self, kind: str, ch: Channel, msg: Message, author: str) -> None:
        # A message edited in place keeps its ts; show when the edit happened instead.
        at = datetime.fromtimestamp(self.fake.clock(), UTC) if kind == "update" else (
            ts_to_datetime(msg.ts))
        stamp = at.strftime("%H:%M")
        lines = render_message(self.fake, msg.text, msg.blocks)
        if msg.files:
            lines[-1] += "  [file: " + ", ".join(f["name"] for f in msg.files) + "]"
        if kind == "update" and any(b.get("block_id", "").startswith("cl|")
                                    for b in msg.blocks):
            lines = ["(checklist updated) " + lines[0], *lines[1:]]
        elif kind == "update":  # the card changed in place: show what it says now, briefly
            roles = [x.strip() for x in lines if x.startswith("*") and ":" in x][1:]
            lines = [f"(card updated) {lines[1]}", *roles[:4]]
        self.line(f"[{stamp}] #{ch.name}  {author}: {lines[0]}")
        for extra in lines[1:]:
            self.line(f"           {extra}")

    def step(self, who: str, what: str) -> None:
        self.line(f"\n>>> {who}: {what}")

    def private(self, user: str, text: str) -> None:
        for i, line in enumerate(readable(self.fake, text).splitlines()):
            prefix = f"    (only {PEOPLE.get(user, user)} sees) " if i == 0 else "    " + " " * 20
            self.line(prefix + line)


class DemoClock:
    """Simulated time, so that a one-minute demo shows an hour-long incident's figures."""

    def __init__(self) -> None:
        self.start = datetime.now(UTC).replace(second=0, microsecond=0)
        self.now = self.start

    def __call__(self) -> datetime:
        return self.now

    def at(self, minutes: int) -> None:
        self.now = self.start + timedelta(minutes=minutes)


async def play(out: TextIO = sys.stdout, pace: float = 0.4) -> int:
    clock = DemoClock()
    fake = FakeSlack(clock=lambda: clock().timestamp())
    for uid, name in PEOPLE.items():
        fake.add_user(uid, name)
    fake.add_channel("general", channel_id=GENERAL, members=set(PEOPLE))
    await fake.start()
    show = Transcript(fake, out)
    fake.on_message.append(show.on_message)
    secret = secrets.token_hex(16)
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            SLACK_BOT_TOKEN="xoxb-demo", SLACK_SIGNING_SECRET=secret, SLACK_API_URL=fake.url,
            DATABASE_URL=f"sqlite+aiosqlite:///{Path(tmp) / 'demo.db'}",
            ALERTS_TOKEN=ALERTS_TOKEN,
            PLAYBOOKS_DIR=SHIPPED_PLAYBOOKS,  # the story follows the default playbook
        )
        # Simulated time: the demo runs the reminder dispatcher itself after every step.
        fh = await build(settings, clock=clock, schedule=False)
        runner, port = await start_http(fh, 0, host="127.0.0.1")
        await finish_startup(fh)
        show.line(f"Foghorn demo: bot on http://127.0.0.1:{port}, fake Slack on {fake.url}\n"
                  "Everything below is real HTTP between the bot and a fake Slack workspace.")
        try:
            async with aiohttp.ClientSession() as session:
                slack = SlackSender(f"http://127.0.0.1:{port}", secret, fake, session)
                await _script(fake, fh, slack, show, clock, pace)
        finally:
            await shutdown(fh, runner)
            await fake.stop()
    return 0


async def _script(fake: FakeSlack, fh: Foghorn, slack: SlackSender,
                  show: Transcript, clock: DemoClock, pace: float) -> None:
    async def wait() -> None:
        """Let the bot finish, and say whatever reminders fell due by now."""
        await fh.background.drain(within=30)
        await fh.dispatcher.run_due()
        await fh.background.drain(within=30)
        await asyncio.sleep(pace)

    async def command(minute: int, user: str, channel: str, text: str) -> None:
        clock.at(minute)
        show.step(PEOPLE[user], f"/incident {text}")
        reply = await slack.command(text, user=user, channel=channel)
        if reply.text:
            show.private(user, reply.text)
        before = len(fake.responses)
        await wait()
        for r in fake.responses[before:]:
            show.private(user, r.get("text", ""))

    await command(0, "UALICE", GENERAL, "declare sev2 Checkout API returning 500s")
    inc_channel = next(c for c in fake.channels.values() if c.name.startswith("incident-"))
    cid = inc_channel.id
    card_ts = inc_channel.pins[0]

    clock.at(2)
    show.step("bob", "clicks [Take Incident Commander] on the card")
    await slack.click(user="UBOB", channel=cid, message_ts=card_ts, action_id=blocks.ROLE_TAKE,
                      block_id=blocks.role_block_id(1, "ic"))
    await wait()

    clock.at(3)
    show.step("bob", "ticks two items of the Initial assessment checklist")
    checklist = next(m for m in inc_channel.messages
                     if any(b.get("block_id", "").startswith("cl|") for b in m.blocks))
    boxes = next(b for b in checklist.blocks if b["type"] == "actions")
    await slack.block_action(user="UBOB", channel=cid, message_ts=checklist.ts, action={
        "type": "checkboxes", "action_id": blocks.CHECKLIST_TICK, "block_id": boxes["block_id"],
        "selected_options": boxes["elements"][0]["options"][:2]})
    await wait()

    show.step("bob", "picks carol in the Tech Lead picker")
    await slack.pick_user(user="UBOB", channel=cid, message_ts=card_ts,
                          action_id=blocks.ROLE_PICK, block_id=blocks.role_block_id(1, "tl"),
                          selected="UCAROL")
    await wait()

    clock.at(6)
    spike = (clock() - timedelta(minutes=9)).astimezone(fh.settings.tz)  # before the declare
    first_clue, _ = await slack.say(cid, "UCAROL", f"Error rate jumped at {spike:%H:%M}, "
                                                   "right after deploy v1.43")
    await asyncio.sleep(pace)
    clock.at(7)
    show.step("bob", "reacts with :pushpin: to carol's message (a key event)")
    await slack.react(cid, first_clue.ts, "UBOB")
    await command(8, "UBOB", cid, "role comms <@UDAN|dan>")
    await command(14, "UBOB", cid, "update identified Bad deploy v1.43; rolling back")
    await command(15, "UBOB", cid, "severity sev1")
    await command(20, "UBOB", cid, "note Decided to roll back rather than hotfix")
    clock.at(38)
    await slack.say(cid, "UCAROL", "Rollback done, error rate falling")
    await asyncio.sleep(pace)

    clock.at(44)  # 30 minutes after the last update: the SEV1 cadence
    show.step("(clock)", "44 minutes in, 30 since the last update")
    await wait()
    reminder = next(m for m in reversed(inc_channel.messages) if m.text.startswith("Reminder:"))
    clock.at(45)
    show.step("bob", "clicks [Post update] on the reminder, fills in the form and submits")
    await slack.click(user="UBOB", channel=cid, message_ts=reminder.ts,
                      action_id=blocks.REMINDER_UPDATE)
    await wait()
    view = fake.calls_to("views.open")[-1].args["view"]
    await slack.submit_view(user="UBOB", view=view, values={
        "status": {"type": "static_select", "selected_option": {"value": "monitoring"}},
        "message": {"type": "plain_text_input",
                    "value": "Rolled back to v1.42; watching error rates"}})
    await wait()
    await command(71, "UBOB", cid, "resolve Rolled back v1.43; checkout healthy again")
    ask = fake.responses[-1]
    show.step("bob", "reads the open validation items and clicks [Resolve anyway]")
    button = ask["blocks"][1]["elements"][0]
    await slack.interaction({
        "type": "block_actions", "user": {"id": "UBOB", "name": "bob"},
        "team": {"id": "T0FOGHORN"}, "channel": {"id": cid},
        "container": {"type": "message", "channel_id": cid, "is_ephemeral": True},
        "response_url": fake.response_url(), "trigger_id": fake.new_trigger_id(),
        "actions": [{**button, "block_id": "confirm", "action_ts": "1"}]})
    await wait()
    await command(72, "UALICE", GENERAL, "list")
    await command(75, "UBOB", cid, "postmortem")
    [draft] = [f for f in fake.files.values() if f["name"].startswith("postmortem-")]
    show.line(f"\n----- {draft['name']} (uploaded to #{inc_channel.name}) -----")
    show.line(draft["content"].decode())
    show.line("-----")
    await command(76, "UALICE", GENERAL, "stats 7d")
    for line in fake.responses[-1]["blocks"][1]["text"]["text"].splitlines():
        show.line(f"           {readable(fake, line)}")

    show.line("\n----- A second incident, of the security type -----")
    await command(80, "UDAN", GENERAL,
                  "declare sev1 security: Admin logins from an unknown country")
    secure = max((c for c in fake.channels.values() if c.name.startswith("incident-")),
                 key=lambda c: c.id)
    show.step("(Slack)", f"#{secure.name} is private and nothing was announced in "
                         f"#incidents; its card has a Security Lead")
    await command(81, "UDAN", secure.id, "role security_lead me")
    clock.at(82)
    show.step("dan", "ticks the first item of the Security checklist")
    contain = next(m for m in secure.messages if m.text.startswith("Security: contain"))
    boxes = next(b for b in contain.blocks if b["type"] == "actions")
    await slack.block_action(user="UDAN", channel=secure.id, message_ts=contain.ts, action={
        "type": "checkboxes", "action_id": blocks.CHECKLIST_TICK, "block_id": boxes["block_id"],
        "selected_options": boxes["elements"][0]["options"][:1]})
    await wait()

    show.line("\n----- A third incident, from a Prometheus Alertmanager alert -----")
    await alert(fake, fh, slack, show, clock, 90, "firing")
    await wait()
    alerted = next(c for c in fake.channels.values() if c.name.endswith("latency-above-2-s"))
    await command(92, "UBOB", alerted.id, "role ic me")
    await alert(fake, fh, slack, show, clock, 99, "resolved")
    await wait()
    await command(100, "UBOB", alerted.id, "resolve Search nodes recovered after a restart")
    show.line("\nDemo finished.")


async def alert(fake: FakeSlack, fh: Foghorn, slack: SlackSender, show: Transcript,
                clock: DemoClock, minute: int, status: str) -> None:
    """What Alertmanager posts for a group of one alert (its webhook, payload version 4)."""
    clock.at(minute)
    started = clock() - timedelta(minutes=4 if status == "firing" else 13)
    show.step("Alertmanager", f"POST /alerts/alertmanager ({status}: SearchLatencyHigh)")
    body = {"version": "4", "groupKey": '{}:{alertname="SearchLatencyHigh"}',
            "status": status, "receiver": "foghorn",
            "groupLabels": {"alertname": "SearchLatencyHigh"},
            "commonLabels": {"alertname": "SearchLatencyHigh", "severity": "critical"},
            "commonAnnotations": {"summary": "Search p99 latency above 2 s"},
            "externalURL": "http://alertmanager.example:9093", "truncatedAlerts": 0,
            "alerts": [{"status": status,
                        "labels": {"alertname": "SearchLatencyHigh", "severity": "critical",
                                   "instance": "search-3"},
                        "annotations": {"summary": "Search p99 latency above 2 s"},
                        "startsAt": started.isoformat(),
                        "endsAt": clock().isoformat() if status == "resolved" else
                        "0001-01-01T00:00:00Z",
                        "generatorURL": "http://prometheus.example:9090/graph",
                        "fingerprint": "5ea7c43"}]}
    base = slack.url.removesuffix("/slack/events")
    async with slack.session.post(f"{base}/alerts/alertmanager", json=body, headers={
            "Authorization": f"Bearer {ALERTS_TOKEN}"}) as r:
        show.line(f"           answered {r.status}")
