"""Test harness: the real bot, served over HTTP, talking to the fake Slack over HTTP.

Requests reach the bot signed as Slack signs them (`bot.testing.slack_requests`); the
database is a real SQLite file, or a fresh PostgreSQL database where the server is reachable.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import build, finish_startup, shutdown, start_http
from bot.config import load_settings
from bot.foghorn import Foghorn
from bot.incidents.model import Incident
from bot.store import repo
from bot.store.db import Database
from bot.testing import blockkit
from bot.testing.fake_slack import INCIDENTS_CHANNEL_ID, Channel, FakeSlack
from bot.testing.postgres import PostgresUnavailable, fresh_database
from bot.testing.slack_requests import SlackSender

# Fixtures for running Foghorn as a real process (`start`, `token_env`).
pytest_plugins = ("tests.processes",)
ROOT = Path(__file__).resolve().parent.parent
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ALICE, BOB, CAROL, DAN = "UALICE", "UBOB", "UCAROL", "UDAN"
GENERAL = "C0GENERAL"
PG_ADMIN_DSN = os.environ.get("FOGHORN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


class Clock:
    """A clock tests can move."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def fake(request: pytest.FixtureRequest) -> AsyncIterator[FakeSlack]:
    """The strict fake Slack. Whatever Slack would have refused during the test (invalid
    Block Kit, a missing scope, a limit) fails the test at teardown, unless the test is
    marked `slack_refusals` because it makes the refusals on purpose."""
    slack = FakeSlack()
    for uid, name in ((ALICE, "alice"), (BOB, "bob"), (CAROL, "carol"), (DAN, "dan")):
        slack.add_user(uid, name)
    slack.add_channel("general", channel_id=GENERAL, members={ALICE, BOB, CAROL, DAN})
    await slack.start()
    yield slack
    await slack.stop()
    if request.node.get_closest_marker("slack_refusals") is None:
        assert slack.refusals == [], f"Slack would have refused: {slack.refusals}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "soak: a longer variant of a test (run with -m soak)")
    config.addinivalue_line("markers", "slack_refusals: the test makes Slack refuse calls on "
                                       "purpose (the fake's refusals are not a failure)")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    checked = blockkit.VALIDATED
    if checked:
        terminalreporter.write_line(
            f"strict fake Slack: checked {checked['message']} bot messages and "
            f"{checked['view']} views against Block Kit's rules")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'foghorn.db'}"


@asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards); skips if the server is away."""
    try:
        async with fresh_database(PG_ADMIN_DSN, "foghorn_test") as url:
            yield url
    except PostgresUnavailable as exc:
        if os.environ.get("FOGHORN_REQUIRE_PG"):  # CI must run these, never skip them
            pytest.fail(f"FOGHORN_REQUIRE_PG is set: {exc}")
        pytest.skip(str(exc))


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Storage tests take this fixture to run on both backends."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'foghorn.db'}"
    else:
        async with fresh_pg_database() as url:
            yield url


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """A migrated database on each backend."""
    database = Database(db_url)
    await database.migrate()
    yield database
    await database.close()


@dataclass
class Bot:
    fh: Foghorn
    url: str
    fake: FakeSlack
    slack: SlackSender
    clock: Clock
    runner: Any
    session: aiohttp.ClientSession
    stopped: bool = False

    async def stop(self) -> None:
        """Shut the bot down as on SIGTERM (idempotent)."""
        if not self.stopped:
            self.stopped = True
            await self.session.close()
            await shutdown(self.fh, self.runner)

    async def settle(self) -> None:
        """Wait until the work Foghorn does after its acks has finished."""
        assert await self.fh.background.drain(within=30), "background work did not finish"

    async def fire_due(self) -> int:
        """Run the reminder dispatcher once at the clock's current time (tests move the clock
        instead of sleeping), then wait for the follow-up work."""
        handled = await self.fh.dispatcher.run_due()
        await self.settle()
        return handled

    async def command(self, text: str, *, user: str = ALICE, channel: str = GENERAL) -> str:
        """Run `/incident <text>`, wait for the follow-up work; return the ack's text."""
        reply = await self.slack.command(text, user=user, channel=channel)
        assert reply.status == 200, reply.body
        await self.settle()
        return reply.text

    async def declare(self, text: str = "sev1 Checkout API returning 500s", *,
                      user: str = ALICE) -> tuple[Incident, Channel]:
        await self.command(f"declare {text}", user=user)
        incidents = await self.open_incidents()
        inc = max(incidents, key=lambda i: i.id)
        assert inc.channel_id
        return inc, self.fake.channels[inc.channel_id]

    async def open_incidents(self) -> list[Incident]:
        async with self.fh.db.read() as s:
            return await repo.list_open(s)

    async def incident(self, incident_id: int) -> Incident:
        inc = await self.fh.service.get(incident_id)
        assert inc is not None
        return inc

    def responses_text(self) -> str:
        return "\n".join(str(r.get("text", "")) for r in self.fake.responses)

    def ephemerals_for(self, user: str) -> list[str]:
        return [e["text"] for e in self.fake.ephemerals if e["user"] == user]

    @property
    def announcements(self) -> list[str]:
        return [m.text for m in self.fake.channels[INCIDENTS_CHANNEL_ID].messages]


BotFactory = Callable[..., Any]


@pytest.fixture
async def make_bot(fake: FakeSlack, sqlite_url: str) -> AsyncIterator[BotFactory]:
    """Start a bot; several may be started, e.g. one after another to simulate a restart."""
    started: list[Bot] = []

    async def start(*, database_url: str | None = None, clock: Clock | None = None,
                    schedule: bool = False, playbooks: Path | None = None, **env: Any) -> Bot:
        clock = clock or Clock()
        fake.clock = lambda: clock().timestamp()  # Slack's message times follow the test clock
        settings = load_settings(**{
            "SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.url, "DATABASE_URL": database_url or sqlite_url,
            "PLAYBOOKS_DIR": playbooks or ROOT / "playbooks", **env,
        })
        fh = await build(settings, clock=clock, schedule=schedule)
        runner, port = await start_http(fh, 0, host="127.0.0.1")
        await finish_startup(fh)
        await fh.background.drain(within=30)  # start-up's catch-up, for tests that read it
        session = aiohttp.ClientSession()
        url = f"http://127.0.0.1:{port}"
        bot = Bot(fh, url, fake, SlackSender(url, SECRET, fake, session), clock, runner, session)
        started.append(bot)
        return bot

    yield start
    for bot in reversed(started):
        await bot.stop()


@pytest.fixture
async def bot(make_bot: BotFactory) -> Bot:
    return await make_bot()
