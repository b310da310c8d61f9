"""manifest.yml matches the code: the command, every subscribed event handled, exact scopes."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bot.slack import blocks
from bot.store import repo
from bot.testing.fake_slack import BOT_USER_ID, FakeSlack
from bot.testing.scopes import METHOD_SCOPES
from tests.conftest import ALICE, BOB, CAROL, Bot, BotFactory

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = yaml.safe_load((ROOT / "manifest.yml").read_text())
METHODS = ROOT / "tests" / "slack_methods"  # Slack's method reference, as published
FAMILY = {"public_channel": "channels", "private_channel": "groups", "im": "im", "mpim": "mpim"}
# The scope Slack requires before it delivers each event type to a bot.
EVENT_SCOPES = {"app_home_opened": None, "message.channels": "channels:history",
                "message.groups": "groups:history", "reaction_added": "reactions:read",
                "reaction_removed": "reactions:read", "pin_added": "pins:read",
                "pin_removed": "pins:read", "app_uninstalled": None, "tokens_revoked": None,
                "channel_archive": "channels:read", "channel_unarchive": "channels:read",
                "group_archive": "groups:read", "group_unarchive": "groups:read",
                "member_left_channel": "channels:read",
                "member_joined_channel": "channels:read", "channel_rename": "channels:read",
                "group_rename": "groups:read", "channel_shared": "channels:read",
                "channel_unshared": "channels:read"}


def test_manifest_declares_the_command_interactivity_and_home() -> None:
    [cmd] = MANIFEST["features"]["slash_commands"]
    assert cmd["command"] == "/incident" and cmd["should_escape"] is True
    assert "declare" in cmd["usage_hint"]
    settings = MANIFEST["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    for url in (cmd["url"], settings["interactivity"]["request_url"],
                settings["event_subscriptions"]["request_url"]):
        assert url.endswith("/slack/events")
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True


async def test_every_subscribed_event_is_acknowledged(bot: Bot) -> None:
    subscribed = MANIFEST["settings"]["event_subscriptions"]["bot_events"]
    assert set(subscribed) == set(EVENT_SCOPES)
    for name in subscribed:
        event_type = name.split(".")[0]  # message.channels arrives as type "message"
        reply = await bot.slack.event({"type": event_type, "user": ALICE, "tab": "home",
                                       "channel": "D1", "event_ts": f"{time.time():.6f}"})
        assert reply.status == 200, f"{event_type} answered {reply.status}"
    await bot.settle()


async def _full_flow(bot: Bot) -> set[str]:
    inc, _ = await bot.declare("sev2 Scope check")
    await bot.declare("sev1 --private Private scope check", user=BOB)
    await bot.slack.click(user=BOB, channel=inc.channel_id, message_ts=inc.card_ts,
                          action_id=blocks.ROLE_TAKE, block_id=blocks.role_block_id(inc.id, "ic"))
    await bot.slack.pick_user(user=BOB, channel=inc.channel_id, message_ts=inc.card_ts,
                              action_id=blocks.ROLE_PICK,
                              block_id=blocks.role_block_id(inc.id, "tl"), selected=CAROL)
    await bot.settle()
    for text in ("update identified found it", "severity sev1", "resolve fixed", "postmortem"):
        await bot.command(text, user=BOB, channel=inc.channel_id)
    await bot.command("declare")  # the modal
    await bot.slack.event({"type": "app_home_opened", "user": ALICE, "tab": "home",
                           "channel": "D1", "event_ts": f"{time.time():.6f}"})
    await bot.settle()
    return {c.method for c in bot.fake.calls}


def _reference(method: str) -> list[str]:
    """The bot scopes Slack's method reference lists for `method` (shipped in
    tests/slack_methods/: a call with no reference here fails, it is never skipped)."""
    path = METHODS / f"{method}.json"
    assert path.is_file(), f"Slack's method reference for {method} is not in {METHODS}"
    return [s["name"] for s in json.loads(path.read_text())["scopes"].get("bot", [])]


def _needs(method: str, types: set[str]) -> list[set[str]]:
    """One set per conversation type the call touched (conversations.* list a scope per
    type: channels:* public, groups:* private, im:*, mpim:*), else the method's scopes."""
    listed = _reference(method)
    if not listed:
        return []
    per_type = [{s for s in listed if s.split(":")[0] == FAMILY[t]} for t in sorted(types)]
    if any(s.split(":")[0] in FAMILY.values() for s in listed) and types:
        return [n for n in per_type if n]
    return [set(listed)]


async def test_bot_scopes_are_exactly_what_the_called_methods_need(
    make_bot: BotFactory, fake: FakeSlack, tmp_path: Path
) -> None:
    # A playbook whose escalation reaches a user, a user group, a public and a private channel.
    pb = yaml.safe_load((ROOT / "playbooks" / "default.yml").read_text())
    pb["severities"][1]["escalation"] = [
        {"after": "10m", "notify": ["#incidents", "S0ONCALL", "UDAN", "G0LEADS"]}]
    pb["links"] = [{"title": "Status page", "url": "https://status.example.com"}]
    (tmp_path / "default.yml").write_text(yaml.safe_dump(pb))
    fake.usergroups["S0ONCALL"] = {"handle": "oncall", "users": {CAROL}}
    fake.add_channel("leads", channel_id="G0LEADS", is_private=True,
                     members={BOT_USER_ID, CAROL})
    bot = await make_bot(playbooks=tmp_path)
    await _full_flow(bot)
    # A declare finished after a restart checks the bookmarks it may already have added,
    # and, finding its channel name taken, looks for the channel it made (private ones too).
    now = bot.clock()
    async with bot.fh.db.write() as s:
        await repo.insert_incident(s, title="Resumed", severity="SEV2", status="investigating",
                                   is_private=True, setup_done=False, declared_by=ALICE,
                                   declared_at=now, last_update_at=now)
    fake.add_channel(f"incident-{now:%Y%m%d}-resumed", is_private=True)
    await bot.fh.service.resume_unfinished()
    bot.clock.now += timedelta(hours=50)  # every reminder kind falls due
    await bot.fire_due()
    calls = [c for c in bot.fake.calls if c.status == 200]
    called = {c.method for c in calls}
    assert {"conversations.join", "conversations.list", "conversations.info"} <= called
    granted = set(MANIFEST["oauth_config"]["scopes"]["bot"]) - {"commands"}
    used = {EVENT_SCOPES[e] for e in MANIFEST["settings"]["event_subscriptions"]["bot_events"]
            if EVENT_SCOPES[e]}
    for call in calls:
        for one_of in _needs(call.method, call.types):
            assert one_of & granted, (f"{call.method} on {sorted(call.types)} needs one of "
                                      f"{sorted(one_of)}")
            used |= one_of & granted
    assert granted == used, f"scopes no call needs: {sorted(granted - used)}"
    private_lists = [c for c in calls if c.method == "conversations.list"
                     and "private_channel" in c.types]
    assert private_lists and "groups:read" in granted


def test_the_fakes_scope_table_is_slacks_method_reference() -> None:
    assert {m: list(s) for m, s in METHOD_SCOPES.items()} == {
        m: _reference(m) for m in METHOD_SCOPES}


@pytest.mark.slack_refusals
async def test_the_fake_refuses_a_call_the_token_has_no_scope_for(fake: FakeSlack) -> None:
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    fake.scopes = frozenset({"chat:write", "channels:read"})
    client = AsyncWebClient(token="xoxb-t", base_url=fake.url)
    await client.conversations_list(types="public_channel")
    with pytest.raises(SlackApiError) as refused:
        await client.conversations_list(types="public_channel,private_channel")
    body = refused.value.response.data
    assert body["error"] == "missing_scope" and body["needed"] == "groups:read"
    assert body["provided"] == "channels:read,chat:write"
    with pytest.raises(SlackApiError, match="missing_scope"):
        await client.users_info(user=ALICE)


def test_oauth_installs_ask_for_the_manifest_scopes_and_redirect_url() -> None:
    from bot.slack.workspaces import BOT_SCOPES, REDIRECT_PATH

    assert list(BOT_SCOPES) == MANIFEST["oauth_config"]["scopes"]["bot"]
    [redirect] = MANIFEST["oauth_config"]["redirect_urls"]
    assert redirect.endswith(REDIRECT_PATH)
