"""`GET /metrics` scraped and parsed after a scripted incident; JSON logs with ids, no secrets."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import logs
from tests.conftest import BOB, Bot


async def scrape(bot: Bot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, keyed by (name, sorted labels)."""
    async with bot.session.get(f"{bot.url}/metrics") as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await r.text()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_what_happened(bot: Bot) -> None:
    bot.fake.fail("chat.postMessage", status=429, times=1, retry_after=1)
    a, _ = await bot.declare("sev1 Checkout down")
    b, _ = await bot.declare("sev2 Search slow")
    await bot.declare("sev1 security: Admin logins from abroad")
    await bot.command("resolve Fixed", channel=b.channel_id)
    await bot.command("declare sev1 Checkout down")  # the same declare again: a duplicate
    forged = await bot.slack.post(b"command=/incident&text=help&user_id=U1",
                                  "application/x-www-form-urlencoded", secret="guess")
    assert forged.status == 401
    # The first SEV1 update reminder falls due at 30m; the dispatcher looks at 32m.
    bot.clock.now = a.declared_at + timedelta(minutes=32)
    await bot.fire_due()

    m = await scrape(bot)
    assert value(m, "foghorn_open_incidents", severity="SEV1", type="general") == 1
    assert value(m, "foghorn_open_incidents", severity="SEV1", type="security") == 1
    assert value(m, "foghorn_open_incidents", severity="SEV2", type="general") == 0  # resolved
    # every severity and type shown, 0 when none are open
    assert ("foghorn_open_incidents", (("severity", "SEV4"), ("type", "ddos"))) in m
    assert value(m, "foghorn_incidents_declared_total", severity="SEV1", type="general") == 1
    assert value(m, "foghorn_incidents_declared_total", severity="SEV1", type="security") == 1
    assert value(m, "foghorn_incidents_declared_total", severity="SEV2", type="general") == 1
    assert value(m, "foghorn_slack_api_calls_total", method="conversations.create",
                 outcome="ok") == 3
    assert value(m, "foghorn_slack_api_ratelimited_total", method="chat.postMessage") == 1
    posts = len(bot.fake.calls_to("chat.postMessage"))
    # The first announcement finds the bot outside #incidents (it joins, then posts); the
    # 429 was retried after Retry-After and is counted apart.
    assert value(m, "foghorn_slack_api_calls_total", method="chat.postMessage",
                 outcome="not_in_channel") == 1
    assert value(m, "foghorn_slack_api_calls_total", method="chat.postMessage",
                 outcome="ok") == posts - 2
    assert value(m, "foghorn_reminders_sent_total", kind="update") == 2  # both SEV1s
    assert value(m, "foghorn_reminders_late_total", kind="update") == 2  # 2 minutes late
    assert value(m, "foghorn_reminder_lateness_seconds_sum", kind="update") == 240
    assert value(m, "foghorn_request_ack_seconds_count", kind="command") == 5
    assert value(m, "foghorn_request_ack_seconds_bucket", kind="command", le="+Inf") == 5
    assert value(m, "foghorn_rejected_requests_total", reason="signature") == 1


async def test_a_failing_call_is_counted_by_its_error(bot: Bot) -> None:
    bot.fake.fail("conversations.create", status=200, error="restricted_action")
    reply = await bot.command("declare sev2 Cannot create")
    assert reply.startswith(":hourglass")
    m = await scrape(bot)
    assert value(m, "foghorn_slack_api_calls_total", method="conversations.create",
                 outcome="restricted_action") == 1


async def test_json_logs_carry_the_ids_and_never_a_secret(
        bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    out = io.StringIO()
    handler = logs.handler("json", out)
    logging.getLogger().addHandler(handler)
    try:
        inc, _ = await bot.declare("sev2 Search slow")
        await bot.command("role ic me", user=BOB, channel=inc.channel_id)
        logging.getLogger("test").warning("token xoxb-1234-secret-token leaked?")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]  # each line is JSON
    assert lines and all({"ts", "level", "logger", "msg"} <= set(line) for line in lines)
    answered = [line for line in lines if line["msg"].startswith("/incident role answered")]
    assert len(answered) == 1
    role = answered[0]
    assert role["team"] == "T0FOGHORN" and role["channel"] == inc.channel_id
    assert role["user"] == BOB and role["kind"] == "command" and role["status"] == 200
    assert isinstance(role["ack_ms"], float)
    # The work after the ack ends with a line of its own, with the incident it acted on.
    [job] = [line for line in lines if line["msg"].startswith("assign-role finished")]
    assert job["incident"] == "INC-1" and job["channel"] == inc.channel_id
    assert job["user"] == BOB and isinstance(job["job_ms"], float)
    everything = out.getvalue()
    assert "xoxb-" not in everything and bot.fh.settings.SLACK_SIGNING_SECRET not in everything
    assert any(line["msg"] == "token [redacted] leaked?" for line in lines)
