"""An operator's first hour (#16): secrets never printed, a token Slack refuses stops start-up
in one line, Slack or a database that does not answer, signals in every state, read-only
operator commands, `check`, `init`, `--version`, quiet logs.

`foghorn` runs as a real process here, against the fake Slack (running in the test's loop,
so the process is awaited with asyncio rather than blocked on)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import yaml

from bot.store.opening import head_revision
from bot.testing.fake_slack import FakeSlack
from tests.conftest import ROOT
from tests.processes import foghorn, free_port

DEFAULT = yaml.safe_load((ROOT / "playbooks" / "default.yml").read_text())


# ----- 1. no secret in any output ------------------------------------------------------------
SECRET = "hunter2-Sup3rS3cret-value"


@pytest.mark.parametrize("env", [
    {"SLACK_BOT_TOKEN": f"xoxp-{SECRET}"},  # a user token where a bot token belongs
    {"SLACK_BOT_TOKEN": f"xoxb-{SECRET}", "SLACK_APP_TOKEN": f"xoxb-{SECRET}"},
    {"SLACK_BOT_TOKEN": SECRET},
    {"DATABASE_URL": f"postgresql+psycopg2://u:{SECRET}@localhost/db"},
    {"DATABASE_URL": f"postgresql+asyncpg://u:{SECRET}@127.0.0.1:1/db"},
    {"DATABASE_URL": f"postgresql+asyncpg://u:{SECRET}@127.0.0.1:bad/db"},
    {"SLACK_SIGNING_SECRET": SECRET, "PORT": "eighty"},
    {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": SECRET, "TIMEZONE": "Mars/Base"},
    {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": SECRET, "SLACK_APP_TOKEN": "xapp-1"},
])
async def test_no_secret_in_any_output(env: dict[str, str], tmp_path: Path) -> None:
    base = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s" * 32,
            "SLACK_API_URL": "http://127.0.0.1:9/api/",
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db", "LOG_LEVEL": "DEBUG"}
    commands = [("run",), ("check",), ("stats",), ("export", "INC-1")]
    results = await asyncio.gather(*(foghorn({**base, **env}, *c) for c in commands))
    for command, (code, out, err) in zip(commands, results, strict=True):
        assert code != 0, command
        assert SECRET not in out + err and "hunter2" not in out + err, command
        assert "Traceback" not in err, (command, err)
        if command == ("run",):
            [line] = err.strip().splitlines()[-1:]
            assert line.startswith("foghorn: ")


async def test_settings_errors_name_the_variable_not_the_value() -> None:
    code, _, err = await foghorn({"SLACK_BOT_TOKEN": f"xoxp-{SECRET}"}, "run")
    assert code == 2 and err.strip() == (
        "foghorn: SLACK_BOT_TOKEN is invalid (must be a bot token starting with xoxb-; got a "
        "value starting with 'xoxp-'): expected the bot token (xoxb-...) from the app's OAuth "
        "& Permissions page")
    code, _, err = await foghorn({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s" * 32,
                                  "DATABASE_URL": f"postgresql+psycopg2://u:{SECRET}@h/db"},
                                 "run")
    assert code == 2 and "got the scheme 'postgresql+psycopg2'" in err


# ----- 2. Slack is asked at start-up ---------------------------------------------------------
@pytest.mark.parametrize(("spoil", "expected"), [
    ("revoked", "SLACK_BOT_TOKEN was refused by Slack: it has been revoked (token_revoked): "
                "reinstall the app for a new one"),
    ("unknown", "SLACK_BOT_TOKEN was refused by Slack: Slack does not recognise it "
                "(invalid_auth)"),
    ("inactive", "SLACK_BOT_TOKEN was refused by Slack: its user or workspace is deactivated "
                 "(account_inactive)"),
])
async def test_a_token_slack_refuses_stops_start_up_in_one_line(
        fake: FakeSlack, token_env: dict[str, str], tmp_path: Path, spoil: str, expected: str
) -> None:
    token = token_env["SLACK_BOT_TOKEN"]
    if spoil == "revoked":
        fake.revoked.add(token)
    elif spoil == "unknown":
        fake.tokens = {"xoxb-another-token"}
    else:
        fake.fail("auth.test", status=200, error="account_inactive")
    code, out, err = await foghorn(token_env, "run")
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"foghorn: {expected}"]
    assert fake.calls_to("chat.postMessage") == []


async def test_unreachable_slack_starts_unready_then_ready_when_slack_answers(
        fake: FakeSlack, token_env: dict[str, str], start) -> None:
    await fake.stop()
    port = free_port()
    env = {**token_env, "SLACK_API_URL": f"http://127.0.0.1:{port}/api/"}
    bot = await start(env)
    body = await bot.until_health(503)
    assert body == {"ok": False, "reason": "waiting for Slack"}
    await asyncio.sleep(1)
    assert (await bot.health())[0] == 503
    later = FakeSlack()
    await later.start(port)  # Slack is back
    try:
        await bot.until_health(200, within=40)
        assert later.calls_to("auth.test")
        code, out = await bot.stop()
        assert code == 0
        assert "Slack did not answer auth.test" in out and "Slack answered: ready" in out
    finally:
        await later.stop()


async def test_a_run_logs_no_bolt_token_warning_and_stops_on_sigterm(
        fake: FakeSlack, token_env: dict[str, str], start) -> None:
    bot = await start({**token_env, "LOG_LEVEL": "DEBUG"})
    await bot.until_health(200)
    assert fake.calls_to("auth.test")
    async with aiohttp.ClientSession() as session, session.get(
            f"http://127.0.0.1:{bot.port}/metrics") as r:
        metrics = await r.text()
    assert re.search(r'^foghorn_build_info\{version="[^"]+"\} 1\.0$', metrics, re.M)
    code, out = await bot.stop()
    head = head_revision()
    assert re.search(r"INFO bot\.serve: foghorn \S+: playbook playbooks/default\.yml "
                     r"\(Default\), database sqlite\+aiosqlite:///\S+/run\.db \(schema "
                     + head + r"\), workspace Foghorn Fake \(T0FOGHORN\), HTTP$", out, re.M)
    assert code == 0, out
    assert "will be unused" not in out and "Traceback" not in out
    assert "listening on port" in out and "shutting down" in out
    assert "alerts are off (set ALERTS_TOKEN to receive Alertmanager's webhooks)" in out


async def test_socket_mode_rejected_app_token_is_one_line(
        fake: FakeSlack, token_env: dict[str, str]) -> None:
    fake.tokens = {token_env["SLACK_BOT_TOKEN"]}  # the app token is not one Slack knows
    env = {**token_env, "SLACK_APP_TOKEN": "xapp-1-rejected"}
    del env["SLACK_SIGNING_SECRET"]
    started = time.monotonic()
    code, out, err = await foghorn(env, "run", limit=30)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "foghorn: SLACK_APP_TOKEN was refused by Slack: Slack does not recognise it "
        "(invalid_auth)"]
    assert time.monotonic() - started < 15


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_stops_a_start_that_is_waiting_for_slack(
        token_env: dict[str, str], start, sig: int) -> None:
    """Socket Mode with Slack down: the start waits on a WebSocket that never opens (slack_sdk
    retries it every 10 s, for ever). A signal still stops the process at once."""
    env = {**token_env, "SLACK_APP_TOKEN": "xapp-1-fine",
           "SLACK_API_URL": f"http://127.0.0.1:{free_port()}/api/"}
    bot = await start(env)
    await bot.until_health(503)  # serving /healthz, still starting
    await asyncio.sleep(1)
    code, out = await bot.stop(sig, within=12)
    assert code == 0, out
    assert "stopped while starting" in out
    assert "Unclosed client session" not in out and "Traceback" not in out


# ----- 3. database errors are one line -------------------------------------------------------
@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A TCP port that accepts connections and never says a word (a PostgreSQL behind a
    broken proxy, say)."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        held.append(w)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for w in held:
        w.close()
    server.close()


async def test_a_silent_postgresql_is_one_line_within_seconds(silent_server: int) -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s" * 32,
           "DATABASE_URL": f"postgresql+asyncpg://foghorn:pw@127.0.0.1:{silent_server}/db"}
    started = time.monotonic()
    code, out, err = await foghorn(env, "run", limit=40)
    took = time.monotonic() - started
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"foghorn: cannot open the database postgresql+asyncpg://foghorn:***@127.0.0.1:"
        f"{silent_server}/db: no answer within 5 s (is the host and port right? a firewall "
        "dropping packets?)"]
    assert took < 15


@pytest.mark.parametrize(("url", "expected"), [
    ("postgresql+asyncpg://postgres@127.0.0.1:1/test",
     "cannot open the database postgresql+asyncpg://postgres@127.0.0.1:1/test: connection "
     "refused (is the database server running on that host and port?)"),
    ("postgresql+asyncpg://nobody_here:pw@127.0.0.1:5432/test",
     'role "nobody_here" does not exist'),
    ("postgresql+asyncpg://postgres@127.0.0.1:5432/no_such_database",
     'database "no_such_database" does not exist'),
    ("postgresql+asyncpg://postgres@no-such-host.invalid:5432/test", "unknown host name"),
    ("sqlite+aiosqlite:////proc/foghorn/x/foghorn.db",
     "cannot create the folder /proc/foghorn/x for the SQLite database"),
])
async def test_database_problems_are_one_line(url: str, expected: str) -> None:
    code, out, err = await foghorn({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s" * 32,
                                    "DATABASE_URL": url}, "run", limit=40)
    assert (code, out) == (2, "")
    [line] = err.splitlines()
    assert line.startswith("foghorn: ") and expected in line, line


async def test_a_full_disk_is_one_line(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a tiny tmpfs needs root (CI runs as root)")
    disk = tmp_path / "tiny"
    disk.mkdir()
    mounted = await asyncio.create_subprocess_exec(
        "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk),
        stderr=asyncio.subprocess.PIPE)
    _, why = await mounted.communicate()
    if mounted.returncode != 0:  # as tests/test_db_faults.py: a container may forbid it
        pytest.skip(f"cannot mount a small tmpfs here: {why.decode().strip()}")
    try:
        (disk / "filler").write_bytes(b"x" * 60_000)
        code, _, err = await foghorn({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s" * 32,
                                      "DATABASE_URL": f"sqlite+aiosqlite:///{disk}/f.db"},
                                     "run")
    finally:
        await (await asyncio.create_subprocess_exec("umount", str(disk))).wait()
    assert code == 2
    assert err.splitlines() == [
        f"foghorn: cannot open the database sqlite+aiosqlite:///{disk}/f.db: the disk is full"]


# ----- 4. a real package: init, --version, check ---------------------------------------------
async def test_version_and_init(tmp_path: Path) -> None:
    code, out, _ = await foghorn({}, "--version", cwd=tmp_path)
    assert code == 0 and out.strip() == "foghorn 0.1.0"
    code, out, _ = await foghorn({}, "init", cwd=tmp_path)
    written = tmp_path / "playbooks" / "default.yml"
    assert code == 0 and f"wrote {Path('playbooks') / 'default.yml'}" in out
    assert written.read_text() == (ROOT / "playbooks" / "default.yml").read_text()
    written.write_text(written.read_text().replace("name: Default", "name: Ours", 1))
    code, _, err = await foghorn({}, "init", cwd=tmp_path)
    assert code == 1 and "already exists; nothing written" in err
    assert "name: Ours" in written.read_text()  # never overwritten
    code, out, _ = await foghorn({}, "check-playbooks", cwd=tmp_path)
    assert code == 0 and "ok: playbooks/default.yml" in out


async def test_check_reports_each_part_and_exits_0_or_1(fake: FakeSlack, tmp_path: Path,
                                                        token_env: dict[str, str]) -> None:
    code, out, _ = await foghorn(token_env, "check")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "ok: settings"
    assert lines[1] == "ok: playbook playbooks/default.yml (Default)"
    assert "does not exist yet: `foghorn run` creates it" in lines[2]
    assert lines[3] == "ok: SLACK_BOT_TOKEN: bot @foghorn in Foghorn Fake"
    assert lines[4].startswith("ok: INCIDENTS_CHANNEL incidents")
    assert fake.calls_to("chat.postMessage") == []  # checked, nothing said
    assert not (tmp_path / "run.db").exists()  # nothing created

    fake.revoked.add(token_env["SLACK_BOT_TOKEN"])
    code, out, _ = await foghorn({**token_env, "INCIDENTS_CHANNEL": "nope"}, "check")
    assert code == 1
    assert "problem: SLACK_BOT_TOKEN was refused by Slack: it has been revoked" in out


# ----- 6. read-only operator commands --------------------------------------------------------
async def test_export_and_stats_read_the_database_only(make_bot, tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/none.db"}
    for args in (("stats",), ("export", "INC-1")):
        code, out, err = await foghorn(env, *args)
        assert (code, out) == (2, "")
        assert err.strip() == (f"foghorn: no database at {tmp_path}/none.db (check "
                               "DATABASE_URL; `foghorn run` creates it)")
    assert not (tmp_path / "none.db").exists()

    url = f"sqlite+aiosqlite:///{tmp_path}/real.db"
    bot = await make_bot(database_url=url)
    inc, _ = await bot.declare("sev2 Checkout slow")
    from tests.conftest import BOB
    await bot.command("role ic me", user=BOB, channel=inc.channel_id)
    await bot.command("resolve Fixed", user=BOB, channel=inc.channel_id)
    await bot.settle()
    await bot.stop()
    calls = len(bot.fake.calls)
    env = {"DATABASE_URL": url, "SLACK_API_URL": bot.fake.url}  # no token at all
    code, out, err = await foghorn(env, "export", "INC-1")
    assert code == 0, err
    assert "# Incident Postmortem: Checkout slow" in out
    assert "- **Incident Commander:** @bob" in out  # the name remembered at resolve
    code, out, err = await foghorn(env, "stats", "7d")
    assert code == 0 and "Incidents declared" in out and "1 (1 resolved)" in out
    assert len(bot.fake.calls) == calls  # not one call to Slack


async def test_export_of_an_older_schema_says_to_upgrade(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import create_engine

    from bot.store.db import alembic_config

    engine = create_engine(f"sqlite:///{tmp_path}/old.db")
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0008")
    engine.dispose()
    code, _, err = await foghorn({"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/old.db"},
                                 "stats")
    from bot.store.opening import head_revision

    assert code == 2 and (f"has schema 0008, this Foghorn reads {head_revision()}: start "
                          "`foghorn run` once to upgrade it") in err
    # For `foghorn check` an older schema is fine: `foghorn run` upgrades it.
    _, out, _ = await foghorn({"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/old.db",
                               "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s" * 32,
                               "SLACK_API_URL": "http://127.0.0.1:9/api/"}, "check")
    [line] = [x for x in out.splitlines() if "has schema 0008" in x]
    assert line.startswith("ok: the database ")


# ----- 7. quiet, exact logs ------------------------------------------------------------------
async def test_first_post_into_the_incidents_channel_joins_quietly(
        make_bot, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.INFO)
    bot = await make_bot()
    await bot.declare("sev2 Checkout slow")
    await bot.settle()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [], [r.getMessage() for r in warnings]
    [joined] = [r for r in caplog.records if r.getMessage().startswith("joining channel")]
    assert joined.getMessage() == ("joining channel incidents (C0INCIDENTS) to post there for "
                                   "the first time")
    assert joined.levelno == logging.INFO and joined.channel == "C0INCIDENTS"


async def test_port_in_use_closes_what_it_opened(fake: FakeSlack, token_env: dict[str, str]
                                                 ) -> None:
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out, err = await foghorn({**token_env, "PORT": str(port)}, "run")
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"foghorn: port {port} is already in use (set PORT to a free "
                                "one)"]


# ----- 8. playbook rules that fit real policies ----------------------------------------------
async def test_a_response_time_longer_than_the_cadence_is_a_warning(tmp_path: Path) -> None:
    pb = yaml.safe_load(yaml.safe_dump(DEFAULT))
    pb["severities"][0].update(response_time="15m", update_every="10m")
    (tmp_path / "default.yml").write_text(yaml.safe_dump(pb))
    code, out, err = await foghorn({}, "check-playbooks", str(tmp_path))
    assert code == 0, err
    assert ("warning: severities[0] (SEV1): response_time (15m) is longer than update_every "
            "(10m): the first update reminder comes before anyone is expected to have "
            "responded") in out


async def test_the_playbook_says_which_role_commands(make_bot, tmp_path: Path) -> None:
    from bot.playbooks import PlaybookError, parse_playbook
    from tests.conftest import BOB

    pb = yaml.safe_load(yaml.safe_dump(DEFAULT))
    pb["roles"][0].update(id="duty", name="Duty Lead", aliases=[])
    del pb["roles"][0]["commands"]
    for cl in [*pb.get("checklists", []),
               *(c for t in pb.get("types", []) for c in t.get("checklists", []))]:
        if cl.get("owner") == "ic":
            cl["owner"] = "duty"
    pb["permissions"] = {k: [w if w != "ic" else "duty" for w in v]
                         for k, v in pb.get("permissions", {}).items()}
    for t in pb.get("types", []):  # escalations to the role's holder follow its new id
        for step in t.get("escalation", []):
            step["notify"] = [n if n != "role:ic" else "role:duty" for n in step["notify"]]
    with pytest.raises(PlaybookError, match="mark the role that commands the incident with "
                                            "`commands: true`"):
        parse_playbook(yaml.safe_dump(pb), "pb.yml")
    pb["roles"][1]["commands"] = True
    pb["roles"][0]["commands"] = True
    with pytest.raises(PlaybookError, match="only one role may have `commands: true`"):
        parse_playbook(yaml.safe_dump(pb), "pb.yml")
    del pb["roles"][1]["commands"]
    (tmp_path / "default.yml").write_text(yaml.safe_dump(pb))
    bot = await make_bot(playbooks=tmp_path)
    inc, channel = await bot.declare("sev1 Checkout down")
    from datetime import timedelta
    bot.clock.now = inc.declared_at + timedelta(minutes=16)
    await bot.fire_due()
    [nudge] = [m.text for m in channel.messages if m.text.startswith(":wave:")]
    assert "Nobody has taken the Duty Lead role on INC-1" in nudge
    assert "`/incident role duty @person`" in nudge
    assert "Incident Commander" not in nudge
    await bot.command("role duty me", user=BOB, channel=inc.channel_id)
    topic = bot.fake.channels[inc.channel_id].topic
    assert f"DL: <@{BOB}>" in topic
    bot.clock.now = inc.declared_at + timedelta(minutes=60)
    await bot.fire_due()
    assert len([m for m in channel.messages if m.text.startswith(":wave:")]) == 1
    await bot.command("stats 7d", channel=inc.channel_id)
    text = bot.fake.responses[-1]["blocks"][1]["text"]["text"]
    assert "*MTTA (declared → DL assigned):* median 16m" in text
