"""An operator's first hour (#16): secrets never printed, a token Slack refuses stops start-up
in one line, Slack or a database that does not answer, signals in every state, read-only
operator commands, `check`, `init`, `--version`, quiet logs.

`foghorn` runs as a real process here, against the fake Slack (running in the test's loop,
so the process is awaited with asyncio rather than blocked on)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import yaml

from bot.testing.fake_slack import FakeSlack
from tests.conftest import ROOT

DEFAULT = yaml.safe_load((ROOT / "playbooks" / "default.yml").read_text())


def _env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(
        ("SLACK_", "DATABASE_", "PORT", "PLAYBOOKS_", "LOG_", "INCIDENTS_"))}
    return {**clean, **extra}


async def foghorn(env: dict[str, str], *args: str, limit: float = 60, cwd: Path = ROOT
                  ) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=_env(**env), cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), limit)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def token_env(fake: FakeSlack, tmp_path: Path) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": "xoxb-good-token-1234", "SLACK_SIGNING_SECRET": "s" * 32,
            "SLACK_API_URL": fake.url, "PORT": str(_free_port()),
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/run.db"}


class Running:
    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc, self.port = proc, port

    async def health(self) -> tuple[int, dict]:
        async with aiohttp.ClientSession() as s, s.get(
                f"http://127.0.0.1:{self.port}/healthz", timeout=aiohttp.ClientTimeout(2)) as r:
            return r.status, await r.json()

    async def until_health(self, status: int, within: float = 30) -> dict:
        deadline = time.monotonic() + within
        while True:
            try:
                got, body = await self.health()
                if got == status:
                    return body
            except (aiohttp.ClientError, TimeoutError):
                pass
            assert self.proc.returncode is None, "foghorn exited"
            assert time.monotonic() < deadline, f"/healthz never answered {status}"
            await asyncio.sleep(0.2)

    async def stop(self, sig: int = signal.SIGTERM, within: float = 12) -> tuple[int, str]:
        started = time.monotonic()
        self.proc.send_signal(sig)
        out, _ = await asyncio.wait_for(self.proc.communicate(), within)
        assert time.monotonic() - started < within
        assert self.proc.returncode is not None
        return self.proc.returncode, out.decode()


@pytest.fixture
async def start() -> AsyncIterator:
    procs: list[asyncio.subprocess.Process] = []

    async def run(env: dict[str, str], *args: str) -> Running:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *(args or ("run",)), env=_env(**env), cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        procs.append(proc)
        return Running(proc, int(env.get("PORT", "3000")))

    yield run
    for proc in procs:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


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
    base = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s",
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
    code, _, err = await foghorn({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s",
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
    port = _free_port()
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
    code, out = await bot.stop()
    assert code == 0, out
    assert "will be unused" not in out and "Traceback" not in out
    assert "listening on port" in out and "shutting down" in out


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
           "SLACK_API_URL": f"http://127.0.0.1:{_free_port()}/api/"}
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
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s",
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
    code, out, err = await foghorn({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s",
                                    "DATABASE_URL": url}, "run", limit=40)
    assert (code, out) == (2, "")
    [line] = err.splitlines()
    assert line.startswith("foghorn: ") and expected in line, line


async def test_a_full_disk_is_one_line(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a tiny tmpfs needs root (CI runs as root)")
    disk = tmp_path / "tiny"
    disk.mkdir()
    mounted = await asyncio.create_subprocess_exec("mount", "-t", "tmpfs", "-o", "size=64k",
                                                   "tmpfs", str(disk))
    assert await mounted.wait() == 0
    try:
        (disk / "filler").write_bytes(b"x" * 60_000)
        code, _, err = await foghorn({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s",
                                      "DATABASE_URL": f"sqlite+aiosqlite:///{disk}/f.db"},
                                     "run")
    finally:
        await (await asyncio.create_subprocess_exec("umount", str(disk))).wait()
    assert code == 2
    assert err.splitlines() == [
        f"foghorn: cannot open the database sqlite+aiosqlite:///{disk}/f.db: the disk is full"]
