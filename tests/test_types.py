"""Incident types (#18): the seeds' scenarios as types that bring their own checklists, roles,
notices and runbook; chosen at declare, changed mid-incident, shown everywhere."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
import yaml

from bot.export import export
from bot.playbooks import PlaybookError, load_playbooks, parse_playbook
from bot.slack import blocks
from bot.store import entry_rows
from bot.testing.fake_slack import BOT_USER_ID, INCIDENTS_CHANNEL_ID
from tests.conftest import ALICE, BOB, GENERAL, ROOT, Bot, BotFactory

DEFAULT = yaml.safe_load((ROOT / "playbooks" / "default.yml").read_text())
SHIPPED = ("general", "outage", "database", "security", "data-loss", "payments", "ddos",
           "performance")


def _texts(bot: Bot, channel: str) -> list[str]:
    return [m.text for m in bot.fake.channels[channel].messages]


def _card(bot: Bot, inc) -> str:
    return json.dumps(bot.fake.channels[inc.channel_id].message(inc.card_ts).blocks)


def test_the_default_playbook_ships_the_seeds_scenarios() -> None:
    pb = load_playbooks(ROOT / "playbooks")
    assert tuple(t.id for t in pb.types) == SHIPPED
    assert pb.default_type is not None and pb.default_type.id == "general"
    security = pb.incident_type("security")
    assert security is not None and security.private
    assert [r.name for r in security.roles] == ["Security Lead"]
    for t in pb.types[1:]:
        assert t.description and t.checklists, t.id
        assert "example.com" not in json.dumps(t.model_dump(mode="json"))
    for cl in pb.all_checklists:
        for item in cl.items:
            assert len(item.text) <= 75, item.text  # a checkbox shows 75 characters


async def test_a_security_declare_is_private_with_its_role_checklists_and_commands(
        bot: Bot) -> None:
    inc, channel = await bot.declare("sev1 security: Suspicious admin logins")
    assert (inc.type, inc.title, inc.severity) == ("security", "Suspicious admin logins",
                                                  "SEV1")
    assert inc.is_private and channel.is_private
    assert bot.announcements == []  # a private type is never announced
    card = _card(bot, inc)
    assert "*Type*\\nSecurity incident" in card and "Security Lead" in card
    assert blocks.role_block_id(inc.id, "security_lead") in card
    texts = _texts(bot, inc.channel_id)
    assert any(t.startswith("Security: contain (first five minutes)") for t in texts)
    contain = next(m for m in channel.messages if m.text.startswith("Security: contain"))
    shown = json.dumps(contain.blocks)
    assert "```openssl rand -hex 32```" in shown  # the item's command, ready to copy
    # the general playbook's own declare checklist comes too
    assert any(t.startswith("Initial assessment") for t in texts)
    await bot.command("role security_lead me", user=BOB, channel=inc.channel_id)
    assert (await bot.incident(inc.id)).roles["security_lead"] == BOB


async def test_a_type_by_flag_with_its_default_severity_and_public_on_request(
        bot: Bot) -> None:
    inc, _ = await bot.declare("--type outage Checkout down")
    assert (inc.type, inc.severity, inc.is_private) == ("outage", "SEV1", False)
    assert bot.announcements  # a public type is announced, saying its type
    assert "*Type:* Service outage" in bot.announcements[-1]
    inc2, channel = await bot.declare("sev2 --public --type=security Pen test findings")
    assert (inc2.type, inc2.severity, inc2.is_private) == ("security", "SEV2", False)
    assert not channel.is_private


async def test_an_unknown_type_lists_the_types_with_descriptions(bot: Bot) -> None:
    reply = await bot.command("declare sev1 --type secruity Logins")
    assert reply.startswith("Unknown type `secruity`. Types: `general` (General: ")
    assert "`security` (Security incident: Suspected breach" in reply
    assert await bot.open_incidents() == []
    reply = await bot.command("list nope")
    assert reply.startswith("Unknown type `nope`")
    # A word with a colon that is not a type stays in the title.
    inc, _ = await bot.declare("sev3 Checkout: 500s on pay")
    assert (inc.type, inc.title) == ("general", "Checkout: 500s on pay")


async def test_the_title_suggests_a_type_without_choosing_it(bot: Bot) -> None:
    inc, _ = await bot.declare("sev2 Stripe charges failing at checkout")
    assert inc.type == "general"
    told = bot.fake.responses[-1]["text"]
    assert ":bulb: This sounds like a *Payment failure* incident" in told
    assert "`/incident type payments`" in told


async def test_changing_the_type_posts_its_checklists_once_and_shows_its_roles(
        bot: Bot) -> None:
    inc, _ = await bot.declare("sev2 Stripe charges failing")
    await bot.command("update identified Provider returns 502", channel=inc.channel_id)
    await bot.command("type payments", user=BOB, channel=inc.channel_id)
    updated = await bot.incident(inc.id)
    assert updated.type == "payments"
    texts = _texts(bot, inc.channel_id)
    assert any(t.startswith(f":label: <@{BOB}> changed INC-1's type from *General* to "
                            "*Payment failure*") for t in texts)
    assert sum(t.startswith("Payments: first steps") for t in texts) == 1
    card = _card(bot, updated)
    assert "Customer Support Lead" in card and "Payment failure" in card
    reply = await bot.command("type payments", channel=inc.channel_id)
    await bot.settle()
    assert "already of type Payment failure" in bot.fake.responses[-1]["text"]
    # Away and back: its checklists are not posted a second time.
    await bot.command("type database", channel=inc.channel_id)
    await bot.command("type payments", channel=inc.channel_id)
    texts = _texts(bot, inc.channel_id)
    assert sum(t.startswith("Payments: first steps") for t in texts) == 1
    assert sum(t.startswith("Database: first steps") for t in texts) == 1
    assert sum(t.startswith("Database: mitigation") for t in texts) == 1  # identified
    async with bot.fh.db.read() as s:
        kinds = [e for e in await entry_rows.list_entries(s, inc.id) if e.kind == "type_changed"]
    assert [(e.data["from"], e.data["to"]) for e in kinds] == [
        ("general", "payments"), ("payments", "database"), ("database", "payments")]
    assert reply == ""


async def test_a_private_type_on_a_public_channel_is_explained_not_applied(bot: Bot) -> None:
    inc, _ = await bot.declare("sev1 Admin logins from abroad")
    await bot.command("type security", channel=inc.channel_id)
    said = bot.fake.responses[-1]["text"]
    assert "Security incident incidents are private, but INC-1's channel is public" in said
    assert "Slack cannot make a public channel private" in said
    assert "`/incident declare --type security <title>`" in said
    assert "`/incident type security --public`" in said
    assert (await bot.incident(inc.id)).type == "general"
    await bot.command("type security --public", channel=inc.channel_id)
    updated = await bot.incident(inc.id)
    assert updated.type == "security" and not updated.is_private
    assert any(t.startswith("Security: contain") for t in _texts(bot, inc.channel_id))


async def test_the_runbook_on_demand(bot: Bot) -> None:
    inc, channel = await bot.declare("sev2 database: Replica lag")
    await bot.command("runbook", channel=inc.channel_id)
    [book] = [m for m in channel.messages if m.text == "Runbook: Database"]
    shown = json.dumps(book.blocks)
    assert "Database: first steps" in shown and "pg_stat_activity" in shown
    assert "Stop queries running for more than 5 minutes" in shown
    # Another type's runbook, from anywhere: only the asker sees it.
    reply = await bot.slack.command("runbook payments", user=ALICE, channel=GENERAL)
    body = reply.json()
    assert body["response_type"] == "ephemeral" and body["text"] == "Runbook: Payment failure"
    assert "`/incident type payments` applies it" in json.dumps(body["blocks"])
    from bot.testing.blockkit import message_problems
    assert message_problems(body["blocks"]) == []
    reply = await bot.command("runbook", channel=GENERAL)
    assert reply.startswith("Name a type, e.g. `/incident runbook security`")


async def test_list_by_type_and_the_home_show_the_type(bot: Bot) -> None:
    await bot.declare("sev2 database: Replica lag")
    await bot.declare("sev3 Typo on the pricing page")
    everything = await bot.command("list")
    assert "_Database_" in everything and "Typo on the pricing page" in everything
    only = await bot.command("list db")
    assert only.startswith("*Open incidents of type Database (1)*")
    assert "Typo" not in only
    none = await bot.command("list ddos")
    assert none == ":white_check_mark: No open incidents of type DDoS or abusive traffic."


async def test_the_form_offers_the_types_and_declares_a_private_security_incident(
        bot: Bot) -> None:
    await bot.command("declare --type security")
    [call] = bot.fake.calls_to("views.open")
    view = call.args["view"]
    select = next(b for b in view["blocks"] if b["block_id"] == "type")
    assert select["element"]["initial_option"]["value"] == "security"
    descriptions = {o["value"]: o["description"]["text"] for o in select["element"]["options"]}
    assert descriptions["payments"].startswith("Payments, checkout or billing failing")
    reply = await bot.slack.submit_view(user=BOB, view=view, values={
        "title": {"type": "plain_text_input", "value": "Leaked API key on a forum"},
        "severity": {"type": "static_select", "selected_option": {"value": "SEV1"}},
        "type": {"type": "static_select", "selected_option": {"value": "security"}},
        "private": {"type": "checkboxes", "selected_options": []},
    })
    assert reply.status == 200
    await bot.settle()
    [inc] = await bot.open_incidents()
    assert (inc.type, inc.is_private) == ("security", True)
    assert bot.fake.channels[inc.channel_id].is_private
    # The form suggests from the title it was opened with, and says what each type is.
    suggested = bot.fh.presenter.declare_modal(GENERAL, title="Stripe webhooks failing")
    select = next(b for b in suggested["blocks"] if b["block_id"] == "type")
    assert select["element"]["initial_option"]["value"] == "payments"


async def test_postmortem_stats_and_export_know_the_type(bot: Bot) -> None:
    inc, _ = await bot.declare("sev2 database: Replica lag")
    await bot.command("role ic me", user=BOB, channel=inc.channel_id)
    await bot.command("resolve Promoted a new replica", channel=inc.channel_id)
    draft = await bot.fh.service.draft_postmortem(await bot.incident(inc.id))
    assert "**Type:** Database" in draft
    assert "**Database: first steps** (0 of 4 done)" in draft
    await bot.command("stats 7d")
    text = bot.fake.responses[-1]["blocks"][1]["text"]["text"]
    assert "*By type:*" in text and "• Database: 1 declared · MTTA " in text
    out = io.StringIO()
    assert await export(bot.fh.settings, inc.label, "json", out) == 0
    assert json.loads(out.getvalue())["incident"]["type"] == "database"


@pytest.mark.parametrize("type_id", SHIPPED)
async def test_every_type_shows_its_card_after_two_sequential_calls(bot: Bot,
                                                                    type_id: str) -> None:
    await bot.command("help")  # Bolt's one-off auth.test, out of the way
    bot.fake.channels[INCIDENTS_CHANNEL_ID].members.add(BOT_USER_ID)
    # Slow Slack calls, so that calls made together overlap even when the shared event loop
    # is busy (the fake checks every block it is sent, on the same loop as the bot).
    bot.fake.delay("*", 0.5)
    first = len(bot.fake.calls)
    await bot.command(f"declare sev2 --type {type_id} A {type_id} incident")
    calls = bot.fake.calls[first:]
    [create] = [c for c in calls if c.method == "conversations.create"]
    inc = max(await bot.open_incidents(), key=lambda i: i.id)
    assert inc.type == type_id
    card = next(c for c in calls if c.method == "chat.postMessage" and c.args.get("blocks")
                and c.args["channel"] == inc.channel_id)
    # the card's only predecessor is the channel's creation: 2 sequential calls
    assert [c for c in calls if c.ended <= card.started] == [create]
    print(f"{type_id}: {len(calls)} Slack calls, 2 sequential before the card")


# ----- the playbook's rules ------------------------------------------------------------------
@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda t: t[1]["checklists"][0].update(owner="nobody"),
     "types[1].checklists[0].owner: 'nobody' is not a role id"),
    (lambda t: t[1].update(default_severity="SEV9"),
     "types[1].default_severity: unknown severity 'SEV9'"),
    (lambda t: t[1]["checklists"][0]["items"][0].update(command="nope"),
     "types[1].checklists[0].items[0].command: 'nope' is not one of this type's commands"),
    (lambda t: t[1]["checklists"][0].update(id="initial-assessment"),
     "types[1].checklists[0].id: 'initial-assessment' is already a checklist (in "
     "checklists)"),
    (lambda t: t[1]["checklists"][0].update(when="fixed"),
     "types[1].checklists[0].when: 'fixed' is not `declare`, `demand` or a status"),
    (lambda t: t[1].update(default=True), "types: exactly one type must have `default: true`"),
    (lambda t: t[3]["roles"][0].update(id="ic"),
     "types[3].roles[0].id: 'ic' is already a role (in roles)"),
    (lambda t: t[2].update(aliases=["outage"]), "types: database and outage both answer to"),
    (lambda t: t[1].update(notify=["bob"]), "'bob' is not a target"),
])
def test_bad_types_are_refused_with_their_path(mutate, expected: str) -> None:
    pb = yaml.safe_load(yaml.safe_dump(DEFAULT))
    mutate(pb["types"])
    with pytest.raises(PlaybookError) as err:
        parse_playbook(yaml.safe_dump(pb), "pb.yml")
    assert expected in str(err.value), str(err.value)


def test_a_types_escalation_adds_to_or_replaces_the_severitys() -> None:
    pb = yaml.safe_load(yaml.safe_dump(DEFAULT))
    pb["types"][3].update(escalation=[{"after": "5m", "notify": ["#security"]}],
                          notify=["S0SECURITY"], replace_escalation=False)
    pb["private_channels"] = ["#security"]  # the private type's escalation must reach someone
    playbook = parse_playbook(yaml.safe_dump(pb), "pb.yml")
    merged = playbook.severity_for("SEV1", "security")
    assert [s.notify for s in merged.escalation] == [("#security",), ("#incidents",)]
    assert merged.notify == ("S0SECURITY",)
    assert playbook.severity_for("SEV1", "general") == playbook.severity("SEV1")
    pb["types"][3]["replace_escalation"] = True
    playbook = parse_playbook(yaml.safe_dump(pb), "pb.yml")
    assert [s.notify for s in playbook.severity_for("SEV1", "security").escalation] == [
        ("#security",)]


async def test_a_playbook_without_types_works_as_before(make_bot: BotFactory,
                                                        tmp_path: Path) -> None:
    pb = yaml.safe_load(yaml.safe_dump(DEFAULT))
    del pb["types"]
    (tmp_path / "default.yml").write_text(yaml.safe_dump(pb))
    bot = await make_bot(playbooks=tmp_path)
    inc, _ = await bot.declare("sev2 Search slow")
    assert inc.type is None and "*Type*" not in _card(bot, inc)
    reply = await bot.command("type security", channel=inc.channel_id)
    assert reply == "This playbook has no incident types."


async def test_a_phase_reached_twice_at_once_posts_its_checklists_once(bot: Bot) -> None:
    """A type change and a status update reaching `identified` together, or two replicas:
    each checklist is claimed by one poster, the other waits for it."""
    inc, channel = await bot.declare("sev2 database: Replica lag")
    bot.fake.delay("chat.postMessage", 0.3)  # both reach the phase before either has posted
    current = await bot.incident(inc.id)
    await asyncio.gather(bot.fh.service.post_checklists(current, "identified"),
                         bot.fh.service.post_checklists(current, "identified"),
                         bot.fh.service.post_checklists(current, "declare"))
    texts = [m.text for m in channel.messages]
    assert sum(t.startswith("Database: mitigation") for t in texts) == 1
    assert sum(t.startswith("Mitigation options") for t in texts) == 1
    assert sum(t.startswith("Database: first steps") for t in texts) == 1


def test_two_types_with_one_id_are_refused() -> None:
    """The shared `unique` check: the old types-only copy let a repeated id through."""
    pb = yaml.safe_load(yaml.safe_dump(DEFAULT))
    pb["types"].append({**pb["types"][1], "aliases": [], "name": "Outage again"})
    with pytest.raises(PlaybookError, match="types: the id outage is used twice"):
        parse_playbook(yaml.safe_dump(pb), "pb.yml")
