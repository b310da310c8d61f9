"""Day two (issue #26): the defects an SRE adopting Foghorn met after the first hour, each as
it was reproduced: escalation of private incidents, `foghorn check` as the deploy gate, a
rollback onto a newer schema, providers' PostgreSQL URLs, a closed pipe, `check`'s words."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text

from bot.playbooks import PlaybookError, load_playbooks, playbook_warnings
from bot.store.db import Database
from bot.store.pg_url import BadDatabaseURL, translate
from bot.testing.fake_slack import INCIDENTS_CHANNEL_ID, FakeSlack
from tests.conftest import BOB, ROOT, Bot, BotFactory
from tests.processes import _env, foghorn, free_port
from tests.test_reminders import at, said

DEFAULT: dict[str, Any] = yaml.safe_load((ROOT / "playbooks" / "default.yml").read_text())


def playbook(tmp_path: Path, change: Any) -> Path:
    pb = json.loads(json.dumps(DEFAULT))
    change(pb)
    folder = tmp_path / "pb"
    folder.mkdir(exist_ok=True)
    (folder / "default.yml").write_text(yaml.safe_dump(pb))
    return folder


def security(pb: dict[str, Any]) -> dict[str, Any]:
    return next(t for t in pb["types"] if t["id"] == "security")


# ----- 1. escalation of private incidents tells the truth ---------------------------------
async def test_a_private_incident_never_claims_to_have_notified_a_channel(bot: Bot) -> None:
    inc, _ = await bot.declare("sev1 --private Quiet trouble")
    assert inc.is_private
    await at(bot, inc, 15)
    [esc] = said(bot, inc.channel_id, ":rotating_light: Escalation")
    assert "Notifying #incidents" not in esc
    assert "Nobody outside this channel was notified" in esc
    assert "Not told, as this incident is private: #incidents" in esc
    assert "private_channels" in esc
    assert not [m for m in bot.fake.channels[INCIDENTS_CHANNEL_ID].messages
                if "Quiet trouble" in m.text or "Escalation" in m.text]


async def test_the_shipped_security_type_escalates_to_its_people(bot: Bot) -> None:
    inc, _ = await bot.declare("sev1 --type security Suspicious admin logins")
    assert inc.is_private and inc.type == "security"
    await bot.command("role ic me", user=BOB, channel=inc.channel_id)
    await at(bot, inc, 15)
    [esc] = said(bot, inc.channel_id, ":rotating_light: Escalation")
    assert f"Notifying the Incident Commander (<@{BOB}>)" in esc
    assert "Nobody holds Security Lead yet" in esc
    [dm] = [m for m in bot.fake.messages_in("D" + BOB) if "*Escalation:*" in m.text]
    assert "Suspicious admin logins" in dm.text
    assert not [m for m in bot.fake.channels[INCIDENTS_CHANNEL_ID].messages
                if "Suspicious" in m.text or "Escalation" in m.text]


def test_check_playbooks_refuses_a_private_type_that_escalates_to_nobody(
        tmp_path: Path) -> None:
    def only_incidents(pb: dict[str, Any]) -> None:
        sec = security(pb)
        sec["escalation"] = [{"after": "15m", "notify": ["#incidents"]}]
    with pytest.raises(PlaybookError, match=r"types\[3\] \(security\) is private, and at its "
                                            r"severity SEV1 its escalation reaches nobody"):
        load_playbooks(playbook(tmp_path, only_incidents))

    def sev1_only(pb: dict[str, Any]) -> None:  # reaches someone at SEV1 only
        sec = security(pb)
        sec["escalation"] = [{"after": "15m", "notify": ["role:ic"]}]
        sec["replace_escalation"] = False
        for sev in pb["severities"][1:]:
            sev["escalation"] = [{"after": "1h", "notify": ["#incidents"]}]
    loaded = load_playbooks(playbook(tmp_path, sev1_only))
    warned = [w for w in playbook_warnings(loaded) if "security" in w]
    assert warned == []  # the type's own step reaches its IC at every severity

    def cleared(pb: dict[str, Any]) -> None:
        security(pb)["escalation"] = [{"after": "15m", "notify": ["#sec-leads"]}]
        pb["private_channels"] = ["#sec-leads"]
    assert load_playbooks(playbook(tmp_path, cleared))


def test_role_targets_name_a_real_role_and_are_for_escalations(tmp_path: Path) -> None:
    def unknown(pb: dict[str, Any]) -> None:
        security(pb)["escalation"] = [{"after": "15m", "notify": ["role:ciso"]}]
    with pytest.raises(PlaybookError, match="'ciso' is not a role of this type"):
        load_playbooks(playbook(tmp_path, unknown))

    def at_declare(pb: dict[str, Any]) -> None:
        security(pb)["notify"] = ["role:security_lead"]
    with pytest.raises(PlaybookError, match="role:<id> targets are for escalations"):
        load_playbooks(playbook(tmp_path, at_declare))


# ----- 2. `foghorn check` refuses what `foghorn run` refuses -------------------------------
async def test_check_fails_where_run_refuses_a_pager_without_its_key(
        fake: FakeSlack, tmp_path: Path, token_env: dict[str, str]) -> None:
    def pages(pb: dict[str, Any]) -> None:
        pb["severities"][0]["escalation"].append(
            {"after": "30m", "notify": ["pagerduty:payments", "opsgenie:platform"]})
    env = {**token_env, "PLAYBOOKS_DIR": str(playbook(tmp_path, pages))}
    code, out, _ = await foghorn(env, "check")
    assert code == 1, out
    assert "problem: PAGERDUTY_KEYS has no key for 'payments'" in out
    assert "problem: OPSGENIE_KEYS has no key for 'platform'" in out  # all, not the first
    code, _, err = await foghorn(env, "run", limit=30)
    assert code == 2 and "PAGERDUTY_KEYS has no key for 'payments'" in err
    assert "(and 1 more; `foghorn check` lists them)" in err


# ----- 3. a database migrated by a newer Foghorn ---------------------------------------
async def test_a_database_from_a_newer_foghorn_is_named_by_check_and_run(
        tmp_path: Path, token_env: dict[str, str]) -> None:
    url = token_env["DATABASE_URL"]
    db = Database(url)
    await db.migrate()
    async with db.write() as s:
        await s.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    await db.close()
    code, out, _ = await foghorn(token_env, "check")
    assert code == 1
    assert ("problem: the database sqlite+aiosqlite:///" in out
            and "was migrated by a newer Foghorn (schema 0099; this one knows up to" in out
            and "run that version or restore a backup" in out)
    assert "start `foghorn run` once to upgrade it" not in out
    code, _, err = await foghorn(token_env, "run", limit=30)
    assert code == 2 and "was migrated by a newer Foghorn (schema 0099" in err
    assert "Can't locate revision" not in err and "Traceback" not in err


# ----- 4. PostgreSQL URLs as providers hand them out -----------------------------------
def test_libpq_parameters_are_translated_for_asyncpg() -> None:
    url, args = translate("postgresql+asyncpg://u:p@db.example.com:5432/app?sslmode=require"
                          "&options=-c%20search_path%3Dfoghorn%20-c%20statement_timeout%3D5s"
                          "&application_name=foghorn&connect_timeout=7")
    assert url.render_as_string(hide_password=False) == (
        "postgresql+asyncpg://u:p@db.example.com:5432/app")
    assert args == {"ssl": "require", "timeout": 7.0, "server_settings": {
        "search_path": "foghorn", "statement_timeout": "5s", "application_name": "foghorn"}}
    for mode in ("disable", "allow", "prefer", "verify-ca", "verify-full"):
        assert translate(f"postgresql+asyncpg://h/d?sslmode={mode}")[1] == {"ssl": mode}
    with pytest.raises(BadDatabaseURL, match="sslmode=sometimes"):
        translate("postgresql+asyncpg://h/d?sslmode=sometimes")
    with pytest.raises(BadDatabaseURL, match="cannot pass on: gssencmode"):
        translate("postgresql+asyncpg://h/d?gssencmode=disable")
    with pytest.raises(BadDatabaseURL, match="certificates that cannot be read"):
        translate("postgresql+asyncpg://h/d?sslmode=verify-full&sslrootcert=/no/such.pem")


async def test_a_providers_url_connects_to_the_real_postgresql(pg_url: str) -> None:
    from bot.config import load_settings

    plain = pg_url.replace("postgresql+asyncpg://", "postgres://")
    settings = load_settings(
        SLACK_BOT_TOKEN="xoxb-x", SLACK_SIGNING_SECRET="s" * 32,
        DATABASE_URL=f"{plain}?sslmode=prefer&options=-c%20search_path%3Dpublic"
                     "&application_name=foghorn-test")
    db = Database(settings.DATABASE_URL, timeout=5)
    try:
        async with db.read() as s:
            assert (await s.execute(text("SHOW application_name"))).scalar() == "foghorn-test"
            assert (await s.execute(text("SHOW search_path"))).scalar() == "public"
    finally:
        await db.close()
    # require against a server without SSL: one clear line, not a keyword-argument error.
    code, _, err = await foghorn({"SLACK_BOT_TOKEN": "xoxb-x", "SLACK_SIGNING_SECRET": "s" * 32,
                                  "DATABASE_URL": f"{plain}?sslmode=require"}, "stats")
    assert code == 2 and "unexpected keyword argument" not in err
    assert "SSL" in err and "Traceback" not in err


# ----- 8. smaller things ---------------------------------------------------------------
async def test_a_closed_pipe_ends_check_playbooks_quietly() -> None:
    """`foghorn check-playbooks | head -0`: the reader is gone before anything is read."""
    reader, writer = os.pipe()
    os.close(reader)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "check-playbooks", str(ROOT / "playbooks"),
        env=_env(), cwd=ROOT, stdout=writer, stderr=asyncio.subprocess.PIPE)
    os.close(writer)
    _, err = await proc.communicate()
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()
    assert proc.returncode == 141


async def test_check_speaks_of_itself_when_slack_cannot_be_reached(
        tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/api/"
    code, out, err = await foghorn({"SLACK_BOT_TOKEN": "xoxb-good-token-1234",
                                    "SLACK_SIGNING_SECRET": "s" * 32, "SLACK_API_URL": dead,
                                    "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db"},
                                   "check", limit=90)
    assert code == 1
    assert "starting anyway" not in out + err
    assert "problem: Slack did not answer auth.test" in out
    assert "`foghorn run` would start and answer /healthz 503" in out


# ----- 6. a database outage is said once per change of state -----------------------------
async def test_a_database_outage_is_one_line_per_change_not_a_traceback_per_tick(
        bot: Bot, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    from bot.store import outage

    now = [1000.0]
    db = bot.fh.db
    db.outage.clock = lambda: now[0]
    down = OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "Connect call failed"))

    async def failing() -> int:
        raise down

    monkeypatch.setattr(bot.fh.dispatcher, "run_due", failing)
    caplog.set_level("DEBUG")
    for _ in range(30):  # 2.5 minutes of ticks every 5 s
        await bot.fh.dispatcher._tick()
        now[0] += 5
    monkeypatch.undo()
    await bot.fh.dispatcher._tick()
    lines = [r for r in caplog.records if r.name == outage.log.name]
    assert [r.levelname for r in lines] == ["WARNING"] * 4
    assert lines[0].getMessage().startswith(
        "the database is not answering (reminder dispatch): connection refused (is the "
        "database server running on that host and port?)")
    assert "still not answering after 60 s (13 failed attempts)" in lines[1].getMessage()
    assert "still not answering after 120 s (25 failed attempts)" in lines[2].getMessage()
    assert "answering again after 150 s (30 failed attempts)" in lines[3].getMessage()
    assert not [r for r in caplog.records if r.exc_info]
    assert all(r.getMessage().rstrip()[-1] not in ":" for r in caplog.records
               if r.levelno >= 30)  # no warning ends with an empty reason


# ----- 7. incidents declared by alerts belong to the workspace --------------------------
async def test_alert_incidents_carry_the_workspace_and_count_in_team_stats(
        make_bot: BotFactory, sqlite_url: str) -> None:
    from sqlalchemy import update

    from bot.store.tables import IncidentRow
    from bot.testing.fake_slack import TEAM_ID
    from tests.test_alerts import TOKEN, payload, post, settle

    bot = await make_bot(ALERTS_TOKEN=TOKEN)
    status, _ = await post(bot, payload())
    assert status == 200
    await settle(bot)
    [inc] = await bot.open_incidents()
    assert inc.team_id == TEAM_ID
    # One stored before this fix (or while Slack had not answered yet) is adopted at start.
    async with bot.fh.db.write() as s:
        await s.execute(update(IncidentRow).values(team_id=""))
    await bot.stop()
    again = await make_bot(database_url=sqlite_url, ALERTS_TOKEN=TOKEN)
    assert (await again.incident(inc.id)).team_id == TEAM_ID
    code, out, err = await foghorn({"DATABASE_URL": sqlite_url}, "stats", "7d", "--team",
                                   TEAM_ID)
    assert code == 0, err
    assert "Incidents declared" in out and "1 (0 resolved)" in out
