"""The postmortem draft: built from the timeline, uploaded as a file, exported from the CLI."""

from __future__ import annotations

import io
import json
from datetime import timedelta

from bot.export import export
from tests.conftest import ALICE, BOB, CAROL, GENERAL, Bot


async def _scripted_incident(bot: Bot) -> tuple:
    inc, _ = await bot.declare("sev3 Checkout API returning 500s")
    start = bot.clock()
    bot.clock.now = start + timedelta(minutes=4)
    await bot.command("role ic me", user=BOB, channel=inc.channel_id)
    key, _ = await bot.slack.say(inc.channel_id, CAROL, "Deploy v1.43 went out at 14:00")
    await bot.slack.react(inc.channel_id, key.ts, BOB)
    bot.clock.now = start + timedelta(minutes=10)
    await bot.command("update identified Bad deploy v1.43", user=BOB, channel=inc.channel_id)
    bot.clock.now = start + timedelta(minutes=12)
    await bot.command("severity sev1", user=BOB, channel=inc.channel_id)
    bot.clock.now = start + timedelta(minutes=50)
    await bot.command("update monitoring Rolled back", user=BOB, channel=inc.channel_id)
    bot.clock.now = start + timedelta(hours=1, minutes=5)
    await bot.command(f"role ic <@{CAROL}>", user=BOB, channel=inc.channel_id)
    # The validation checklist (posted at monitoring) is unticked: confirm resolving anyway.
    await bot.fh.service.resolve(inc.channel_id, "Rolled back to v1.42", CAROL, confirmed=True)
    await bot.settle()
    return inc, key


async def test_postmortem_is_built_and_uploaded(bot: Bot) -> None:
    inc, key = await _scripted_incident(bot)
    ack = await bot.command("postmortem", user=CAROL, channel=inc.channel_id)
    assert "Building the postmortem draft" in ack
    assert [c.method for c in bot.fake.calls if c.method.startswith("files.")] == [
        "files.getUploadURLExternal", "files.completeUploadExternal"]
    [upload] = bot.fake.files.values()
    doc = upload["content"].decode()
    assert upload["name"] == f"postmortem-{inc.channel_name}.md"
    channel = bot.fake.channels[inc.channel_id]
    assert channel.messages[-1].files[0]["id"] == upload["id"]  # shared in the channel

    for expected in (
        "# Incident Postmortem: Checkout API returning 500s",
        "**Severity:** SEV1 (Critical)",
        "- **Duration:** 1h 5m",
        "SEV3 at declaration → SEV1 at",
        "(by @bob)",
        "- **Incident Commander:** @bob (from",
        ", then @carol (from",
        "- **Time to Incident Commander:** 4m",
        "- **Time to first status update:** 10m",
        "- **Time to resolve:** 1h 5m",
        "- **Status updates:** 2",
        "- **Longest time without a status update:** 40m",
        "## Root cause",
        "_What caused the incident?",
        "## Action items",
        "Rolled back to v1.42",
    ):
        assert expected in doc, expected
    key_section = doc.split("### Key events")[1].split("### Full log")[0]
    assert "Deploy v1.43 went out" in key_section and "📌" in key_section
    full_log = doc.split("### Full log")[1]
    assert full_log.index("declared the incident") < full_log.index("Deploy v1.43")
    assert (await bot.incident(inc.id)).postmortem_at == bot.clock()
    assert key.ts


async def test_postmortem_outside_an_incident_channel(bot: Bot) -> None:
    answer = await bot.command("postmortem", user=ALICE, channel=GENERAL)
    assert "works inside an incident channel" in answer  # said once, in the answer itself
    assert bot.fake.responses == [] and bot.fake.files == {}


async def test_export_prints_markdown_and_json(bot: Bot) -> None:
    inc, _ = await _scripted_incident(bot)
    out = io.StringIO()
    assert await export(bot.fh.settings, inc.channel_name, "md", out) == 0
    assert "# Incident Postmortem: Checkout API returning 500s" in out.getvalue()
    out = io.StringIO()
    assert await export(bot.fh.settings, f"#{inc.channel_name}", "json", out) == 0
    data = json.loads(out.getvalue())
    assert data["incident"]["label"] == inc.label
    assert data["incident"]["postmortem_done_at"] is None  # a draft is not a postmortem
    kinds = [e["kind"] for e in data["entries"]]
    assert kinds[0] == "declared" and kinds.count("role_assigned") == 2
    assert {"message", "status_update", "severity_changed", "resolved"} <= set(kinds)
    stamps = [e["at"] for e in data["entries"]]
    assert stamps == sorted(stamps)
    assert any(e["key_event"] for e in data["entries"])
    missing = io.StringIO()
    assert await export(bot.fh.settings, "no-such-incident", "md", missing) == 1
