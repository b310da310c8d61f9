"""What every benchmark shares: the fake Slack in this process, the real bot in another."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

try:
    import aiohttp

    from bot.testing.fake_slack import BOT_USER_ID, INCIDENTS_CHANNEL_ID, FakeSlack
    from bot.testing.ports import free_port
    from bot.testing.postgres import PostgresUnavailable, fresh_database
    from bot.testing.slack_requests import Reply, SlackSender
except ImportError as exc:  # pragma: no cover - depends on the environment
    sys.exit(f"bench: missing dependency ({exc.name}); run `make setup` first")

USER, CHANNEL = "UBENCH", "C0BENCH"


@dataclass
class Running:
    fake: FakeSlack
    slack: SlackSender
    url: str
    session: aiohttp.ClientSession
    pid: int
    secret: str
    database_url: str


def machine() -> str:
    return f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}"


def _last_line(path: Path) -> str:
    lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    return lines[-1] if lines else "no output"


async def _wait_healthy(url: str, proc: asyncio.subprocess.Process,
                        session: aiohttp.ClientSession, stderr: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            sys.exit(f"bench: the bot exited during start-up: {_last_line(stderr)}")
        try:
            async with session.get(f"{url}/healthz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    sys.exit("bench: the bot did not become healthy within 60 s")


def port_or_free(port: int | None) -> int:
    """`port` if it can be bound (one-line exit if not), else a free one."""
    if not port:
        return free_port()
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            sys.exit(f"bench: port {port} is already in use; pick another or leave it out")
    return port


@asynccontextmanager
async def running_bot(database_url: str | None = None, fake: FakeSlack | None = None,
                      port: int | None = None) -> AsyncIterator[Running]:
    """Start the fake Slack here and `python -m bot run` (HTTP mode) in a subprocess."""
    fake = fake or FakeSlack()
    fake.add_user(USER, "bench")
    fake.add_channel("bench", channel_id=CHANNEL, members={USER})
    fake.channels[INCIDENTS_CHANNEL_ID].members.add(BOT_USER_ID)
    await fake.start()
    port, secret = port_or_free(port), secrets.token_hex(16)
    with tempfile.TemporaryDirectory() as tmp:
        bot_env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": secret,
                   "SLACK_API_URL": fake.url, "PORT": str(port),
                   "DATABASE_URL": database_url or f"sqlite+aiosqlite:///{tmp}/bench.db",
                   "PLAYBOOKS_DIR": str(ROOT / "playbooks")}
        bot_env.pop("SLACK_APP_TOKEN", None)
        stderr = Path(tmp) / "bot.log"
        with stderr.open("wb") as log:
            # BENCH_PROFILE=file: run the bot under py-spy, writing collapsed stacks there.
            profile = os.environ.get("BENCH_PROFILE")
            spy = ["py-spy", "record", "--format", "raw", "--rate", "200", "--nonblocking",
                   "-o", profile, "--"] if profile else []
            proc = await asyncio.create_subprocess_exec(
                *spy, sys.executable, "-m", "bot", "run", cwd=ROOT, env=bot_env,
                start_new_session=bool(profile),
                stdout=asyncio.subprocess.DEVNULL, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as session:
                await _wait_healthy(url, proc, session, stderr)
                slack = SlackSender(url, secret, fake, session)
                await slack.command("help", user=USER, channel=CHANNEL)  # Bolt's auth.test
                yield Running(fake, slack, url, session, proc.pid, secret,
                              bot_env["DATABASE_URL"])
        finally:
            if proc.returncode is None:
                # py-spy writes its profile on SIGINT (and stops the bot with it)
                proc.send_signal(signal.SIGINT) if profile else proc.terminate()
                await asyncio.wait_for(proc.wait(), 30)
            if profile:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
            await fake.stop()


async def until(done: Callable[[], bool], seconds: float = 60, poll: float = 0.002) -> None:
    """Wait until `done()` holds (the fake records calls; polling it is the honest way)."""
    async with asyncio.timeout(seconds):
        while not done():  # noqa: ASYNC110
            await asyncio.sleep(poll)


async def wait_for_calls(fake: FakeSlack, method: str, count: int) -> None:
    """Wait until `method` has been answered successfully `count` times."""
    await until(lambda: len([c for c in fake.calls_to(method) if c.status == 200]) >= count)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rss_mb(pid: int) -> float:
    """Resident memory of process `pid` in MiB (Linux /proc, else `ps`)."""
    status = Path(f"/proc/{pid}/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    out = subprocess.run(["ps", "-o", "rss=", "-p", str(pid)], capture_output=True, text=True)
    return int(out.stdout.strip() or 0) / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process `pid` has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


PG_ADMIN = os.environ.get("FOGHORN_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


@asynccontextmanager
async def fresh_postgres() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database for one run (dropped afterwards); a one-line exit when
    the server cannot be reached. Set FOGHORN_BENCH_PG to use another server."""
    try:
        async with fresh_database(PG_ADMIN, "foghorn_bench") as url:
            yield url
    except PostgresUnavailable as exc:
        sys.exit(f"bench: {exc}; start it or set FOGHORN_BENCH_PG")


@asynccontextmanager
async def load_generator() -> AsyncIterator[Callable[..., Any]]:
    """`bench/load.py` in its own process; yields `run(job) -> result` (see load.py)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "bench" / "load.py"), stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, limit=256 * 1024 * 1024)
    assert proc.stdin is not None and proc.stdout is not None

    async def run(job: dict[str, Any]) -> dict[str, Any]:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write((json.dumps(job) + "\n").encode())
        await proc.stdin.drain()
        line = await proc.stdout.readline()
        if not line:
            sys.exit("bench: the load generator stopped")
        return json.loads(line)

    try:
        yield run
    finally:
        proc.stdin.close()
        await asyncio.wait_for(proc.wait(), 10)


@asynccontextmanager
async def floor_process(kind: str, secret: str, slack_url: str) -> AsyncIterator[str]:
    """`bench/floors.py kind` on a free port; yields its /slack/events URL once it listens."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "bench" / "floors.py"), kind, "--port", str(port),
        "--secret", secret, "--slack-url", slack_url)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.returncode is not None:
                sys.exit(f"bench: the {kind} floor exited during start-up")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit(f"bench: the {kind} floor did not start within 30 s")
                await asyncio.sleep(0.1)
        yield f"http://127.0.0.1:{port}/slack/events"
    finally:
        if proc.returncode is None:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 10)


async def quiet(fake: FakeSlack, still: float = 0.3, seconds: float = 120) -> None:
    """Wait until the bot has made no Slack call for `still` seconds (its background work
    after the acks is done), so the next measurement does not share the CPU with it."""
    deadline = time.monotonic() + seconds
    seen, since = len(fake.calls), time.monotonic()
    while time.monotonic() - since < still and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        if len(fake.calls) != seen:
            seen, since = len(fake.calls), time.monotonic()


def need(module: str, extra: str = "bench") -> Any:
    """Import `module` or exit with one line saying how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        sys.exit(f"bench: missing dependency ({module}); run "
                 f"`.venv/bin/pip install -e '.[{extra}]'`")


async def stored_messages(database_url: str) -> int:
    """How many people's messages the bot's database holds (read straight from it)."""
    query = "SELECT count(*) FROM timeline_entries WHERE kind IN ('message', 'file')"
    if database_url.startswith("sqlite"):
        import sqlite3

        path = database_url.split(":///", 1)[1]
        with sqlite3.connect(path) as conn:
            return int(conn.execute(query).fetchone()[0])
    import asyncpg

    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        return int(await conn.fetchval(query))
    finally:
        await conn.close()


class Recorder(SlackSender):
    """Builds the requests SlackSender would send, without sending them: the load generator
    (another process) sends and signs them. `take()` hands over what was built."""

    def __init__(self, fake: FakeSlack) -> None:
        super().__init__("http://unused", "", fake, None)  # type: ignore[arg-type]
        self.built: list[dict[str, str]] = []

    async def post(self, body: bytes, content_type: str, **_: Any) -> Reply:
        self.built.append({"body": body.decode(), "type": content_type})
        return Reply(0, "")

    def take(self) -> list[dict[str, str]]:
        built, self.built = self.built, []
        return built
