"""Authentication, authorisation from the playbook, and secrets kept out of logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from urllib.parse import urlencode

import pytest
import yaml

from bot.testing.slack_requests import sign
from tests.conftest import ALICE, BOB, DAN, GENERAL, ROOT, SECRET, Bot, BotFactory

DEFAULT = yaml.safe_load((ROOT / "playbooks" / "default.yml").read_text())


def _declare_body(text: str = "declare sev1 Sneaky") -> bytes:
    return urlencode({"command": "/incident", "text": text, "user_id": ALICE,
                      "channel_id": GENERAL, "team_id": "T0FOGHORN",
                      "trigger_id": "t", "response_url": "http://127.0.0.1:9/x"}).encode()


async def test_unsigned_forged_and_misattributed_requests_are_refused_and_counted(
    bot: Bot
) -> None:
    body = _declare_body()
    async with bot.slack.session.post(bot.slack.url, data=body, headers={
            "Content-Type": "application/x-www-form-urlencoded"}) as r:
        assert r.status == 401  # unsigned
    forged = await bot.slack.post(body, "application/x-www-form-urlencoded", secret="guess")
    assert forged.status == 401
    # A valid signature, but for another body.
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               **sign(SECRET, _declare_body("help"))}
    async with bot.slack.session.post(bot.slack.url, data=body, headers=headers) as r:
        assert r.status == 401
    replayed = await bot.slack.post(body, "application/x-www-form-urlencoded",
                                    timestamp=1_700_000_000)
    assert replayed.status == 401
    await bot.settle()
    assert bot.fake.calls_to("conversations.create") == []
    async with bot.slack.session.get(f"{bot.url}/healthz") as r:
        assert (await r.json())["rejected_requests"] == 4


async def test_playbook_permissions_refuse_politely(make_bot: BotFactory, tmp_path: Path
                                                   ) -> None:
    pb = json.loads(json.dumps(DEFAULT))
    pb["permissions"] = {"resolve": ["ic", "declarer"], "severity": ["ic"]}
    (tmp_path / "default.yml").write_text(yaml.safe_dump(pb))
    bot = await make_bot(playbooks=tmp_path)
    inc, _ = await bot.declare("sev2 Guarded", user=ALICE)
    await bot.command("role ic me", user=BOB, channel=inc.channel_id)

    await bot.command("severity sev1", user=DAN, channel=inc.channel_id)
    refusal = bot.fake.responses[-1]["text"]
    assert refusal == f"Sorry, only the Incident Commander (<@{BOB}>) may change the severity " \
                      f"of {inc.label}."
    await bot.command("resolve done", user=DAN, channel=inc.channel_id)
    assert "only the Incident Commander (<@UBOB>) or the declarer (<@UALICE>) may resolve" in (
        bot.fake.responses[-1]["text"])
    stored = await bot.incident(inc.id)
    assert (stored.severity, stored.status) == ("SEV2", "investigating")

    await bot.command("severity sev1", user=BOB, channel=inc.channel_id)
    await bot.command("resolve done", user=ALICE, channel=inc.channel_id)
    stored = await bot.incident(inc.id)
    assert (stored.severity, stored.is_resolved) == ("SEV1", True)


def test_permissions_are_validated() -> None:
    from bot.playbooks import PlaybookError, parse_playbook

    pb = json.loads(json.dumps(DEFAULT))
    pb["permissions"] = {"resolve": ["boss"]}
    with pytest.raises(PlaybookError, match=r"permissions\.resolve: 'boss' is not a role id"):
        parse_playbook(yaml.safe_dump(pb), "pb.yml")
    pb["permissions"] = {"archive": ["ic"]}
    with pytest.raises(PlaybookError, match="unknown action 'archive'"):
        parse_playbook(yaml.safe_dump(pb), "pb.yml")


async def test_secrets_never_reach_the_logs(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # including slack_sdk's request dumps
    inc, _ = await bot.declare("sev1 Leaky")
    bot.fake.fail("chat.postMessage", status=200, error="invalid_auth")
    await bot.command("update identified checking", channel=inc.channel_id)
    await bot.slack.post(_declare_body(), "application/x-www-form-urlencoded", secret="bad")
    logging.getLogger("test").warning("token in a message: xoxb-test-token, and %s", SECRET)
    assert "Authorization" in caplog.text or "slack" in caplog.text  # the logs did run
    for secret in ("xoxb-test-token", SECRET):
        assert secret not in caplog.text
    assert "[redacted]" in caplog.text


async def test_a_database_error_never_logs_what_was_being_written(
        bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    """#23: engines hide statement parameters, so a failing write of a message (or an
    alert payload) never puts its text in the log."""
    from sqlalchemy import text

    caplog.set_level(logging.DEBUG)
    inc, _ = await bot.declare("sev2 Private words")
    async with bot.fh.db.write() as s:  # every new timeline entry now fails
        await s.execute(text("CREATE TRIGGER no_entries BEFORE INSERT ON timeline_entries "
                             "BEGIN SELECT RAISE(ABORT, 'the disk is unhappy'); END"))
    secret_words = "the merger with Initech closes on Friday"
    _, reply = await bot.slack.say(inc.channel_id, BOB, secret_words)
    assert reply.status == 500  # not stored: Slack delivers it again
    assert "the disk is unhappy" in caplog.text  # the error itself was logged
    assert "parameters hidden" in caplog.text or "[SQL" not in caplog.text
    assert secret_words not in caplog.text


def test_a_secret_too_short_to_redact_is_refused_at_start() -> None:
    from bot.config import ConfigError, load_settings

    with pytest.raises(ConfigError) as refused:
        load_settings(SLACK_BOT_TOKEN="xoxb-test-token", SLACK_SIGNING_SECRET="abc12")
    assert "SLACK_SIGNING_SECRET" in str(refused.value) and "abc12" not in str(refused.value)
