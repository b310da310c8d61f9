"""Start-up: one-line errors for bad configuration, playbooks and ports; SIGTERM; the demo."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from bot.testing.fake_slack import FakeSlack
from bot.testing.ports import free_port

ROOT = Path(__file__).resolve().parent.parent


def _run(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(
        ("SLACK_", "DATABASE_", "PORT", "PLAYBOOKS_", "LOG_FORMAT"))}
    return subprocess.run([sys.executable, "-m", "bot", *args], env={**clean, **env},
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.mark.parametrize(("env", "expected"), [
    ({}, "SLACK_BOT_TOKEN is not set"),
    ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET is not set"),
    ({"SLACK_BOT_TOKEN": "nope"}, "SLACK_BOT_TOKEN is invalid (must be a bot token"),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s" * 32, "PORT": "eighty"},
     "PORT is invalid"),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s" * 32, "TIMEZONE": "Mars/Base"},
     "TIMEZONE is invalid (unknown time zone 'Mars/Base'"),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s" * 32, "DATABASE_URL": "mysql://x"},
     "DATABASE_URL is invalid"),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s" * 32, "LOG_FORMAT": "xml"},
     "LOG_FORMAT is invalid (must be text or json; got 'xml')"),
    ({"SLACK_CLIENT_ID": "1.2"}, "SLACK_CLIENT_SECRET is not set"),
    ({"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "c" * 32},
     "SLACK_SIGNING_SECRET is not set"),
    ({"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "c" * 32, "SLACK_SIGNING_SECRET": "s" * 32,
      "SLACK_APP_TOKEN": "xapp-1"}, "OAuth installs need HTTP mode"),
])
def test_bad_configuration_stops_with_one_line(env: dict[str, str], expected: str) -> None:
    result = _run(env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("foghorn: ") and expected in lines[0]


def test_invalid_playbook_stops_start_up(tmp_path: Path) -> None:
    (tmp_path / "default.yml").write_text("name: x\nseverities: []\n")
    result = _run({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s" * 32,
                   "PLAYBOOKS_DIR": str(tmp_path), "DATABASE_URL":
                   f"sqlite+aiosqlite:///{tmp_path}/x.db"})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"foghorn: {tmp_path}/default.yml: severities: needs at least 1 entry "
        "(and 3 more problem(s))")


def test_unreachable_database_is_one_line() -> None:
    result = _run({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s" * 32,
                   "DATABASE_URL": "postgresql+asyncpg://u:secret@127.0.0.1:1/x"})
    assert result.returncode == 2
    assert "cannot open the database postgresql+asyncpg://u:***@127.0.0.1:1/x" in result.stderr
    assert "secret" not in result.stderr and "Traceback" not in result.stderr


def test_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _run({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s" * 32,
                       "PORT": str(port), "SLACK_API_URL": "http://127.0.0.1:9/api/",
                       "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db"})
    assert result.returncode == 2
    assert f"port {port} is already in use" in result.stderr


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_run_serves_healthz_and_stops_on_sigterm(fake: FakeSlack, tmp_path: Path,
                                                       log_format: str, start) -> None:
    bot = await start({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s" * 32,
                       "LOG_FORMAT": log_format, "PORT": str(free_port()),
                       "SLACK_API_URL": fake.url,
                       "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/run.db"})
    await bot.until_health(200)
    code, output = await bot.stop(signal.SIGTERM, within=10)
    assert code == 0
    assert (tmp_path / "run.db").exists()
    assert "listening on port" in output and "shutting down" in output
    if log_format == "json":  # every line one JSON object, whoever logged it
        lines = [json.loads(line) for line in output.splitlines()]
        assert any(line["msg"].startswith("listening on port") for line in lines)
        assert all(line["level"] in ("info", "warning", "error") for line in lines)


def test_settings_defaults() -> None:
    s = load_settings(SLACK_BOT_TOKEN="xoxb-1")
    assert s.DATABASE_URL == "sqlite+aiosqlite:///foghorn.db"
    assert (s.PORT, s.INCIDENTS_CHANNEL, s.TIMEZONE) == (3000, "incidents", "UTC")
    assert s.SLACK_API_URL == "https://slack.com/api/"
    assert load_settings(SLACK_API_URL="http://localhost:9/api").SLACK_API_URL == (
        "http://localhost:9/api/")
    assert load_settings(INCIDENTS_CHANNEL="#war-room").INCIDENTS_CHANNEL == "war-room"
    assert load_settings(DATABASE_URL="postgres://u:p@db:5432/x").DATABASE_URL == (
        "postgresql+asyncpg://u:p@db:5432/x")  # as Heroku hands it out
    assert load_settings(LOG_FORMAT=" JSON ").LOG_FORMAT == "json"
    assert not load_settings(SLACK_CLIENT_ID="").multi_workspace
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN is invalid"):
        load_settings(SLACK_APP_TOKEN="xoxb-wrong")


def test_demo_plays_a_whole_incident_offline() -> None:
    result = _run({}, "demo", "--pace", "0", timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in ("/incident declare sev2 Checkout API returning 500s",
                     "INCIDENT DECLARED", "@bob is now the *Incident Commander*",
                     "@carol is now the *Tech Lead*", "*UPDATE:*",
                     "Severity changed from *SEV2 (Major)* to *SEV1 (Critical)*",
                     "*RESOLVED:* Checkout API returning 500s",
                     "# Incident Postmortem: Checkout API returning 500s",
                     "- **Time to Incident Commander:**", "Escalation: INC-1 (SEV1)",
                     "Reminder: it has been 30m since the last update",
                     "clicks [Post update] on the reminder", "(checklist updated)",
                     "☑ Check monitoring alerts", "/incident stats 7d",
                     "*MTTA (declared → IC assigned):* median 2m", "Demo finished."):
        assert expected in out, expected
    assert "Traceback" not in result.stderr
    assert out.rstrip().endswith("Demo finished.")
    draft = out.split("# Incident Postmortem")[1]
    assert "📌" in draft and "Error rate jumped at " in draft  # the key event
    # The story agrees with its clock: the spike carol reports came before the declare.
    spike = re.search(r"Error rate jumped at (\d\d:\d\d)", out)
    declared = re.search(r"\*Declared\*: \d{4}-\d\d-\d\d (\d\d:\d\d)", out)
    assert spike and declared and spike.group(1) < declared.group(1)
    assert "note: Decided to roll back rather than hotfix" in draft
    # The second incident, of the security type: private, not announced, its own checklist
    # and role.
    second = out.split("A second incident, of the security type")[1]
    assert "/incident declare sev1 security: Admin logins from an unknown country" in second
    assert "is private and nothing was announced" in second
    assert "Security: contain (first five minutes)" in second
    assert "@dan is now the *Security Lead*" in second
    assert "openssl rand -hex 32" in second
    # The third, declared by an Alertmanager alert; the alert resolves, the IC resolves it.
    third = out.split("A third incident, from a Prometheus Alertmanager alert")[1]
    assert "POST /alerts/alertmanager (firing: SearchLatencyHigh)" in third
    assert "== INC-3 · Search p99 latency above 2 s ==" in third
    assert "• firing: Search p99 latency above 2 s (search-3)" in third
    assert "Every alert of this group is resolved. @bob, move to monitoring" in third
    assert "*RESOLVED:* Search p99 latency above 2 s" in third
    announced = out.split("INCIDENT DECLARED")
    assert len(announced) == 3  # the security incident was not announced
