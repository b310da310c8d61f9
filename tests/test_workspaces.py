"""Multi-workspace installs through Bolt's OAuth flow, end to end against the fake Slack:
two workspaces side by side never see each other's incidents; uninstalling removes a
workspace's tokens; bad OAuth callbacks store nothing."""

from __future__ import annotations

import html
import logging
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from bot.store import reminder_rows
from bot.store.tables import Base, TimelineEntryRow
from bot.testing.fake_slack import INCIDENTS_CHANNEL_ID, TEAM_ID, FakeSlack
from tests.conftest import ALICE, BOB, GENERAL, Bot, BotFactory

CLIENT_ID, CLIENT_SECRET = "1234.5678", "s3cr3t-client-value"
TEAM_B, ERIN, FRANK = "T0SECOND", "UERIN", "UFRANK"
GENERAL_B = "C2GENERAL"
BOTS = Base.metadata.tables["slack_bots"]
INSTALLS = Base.metadata.tables["slack_installations"]
STATES = Base.metadata.tables["slack_oauth_states"]


@pytest.fixture
async def oauth_bot(fake: FakeSlack, make_bot: BotFactory, db_url: str) -> Bot:
    """A bot serving OAuth installs, on SQLite and on PostgreSQL."""
    fake.oauth_client = (CLIENT_ID, CLIENT_SECRET)
    fake.add_team(TEAM_B, "Second Co")
    for uid, name in ((ERIN, "erin"), (FRANK, "frank")):
        fake.add_user(uid, name)
    fake.add_channel("general", channel_id=GENERAL_B, members={ERIN, FRANK}, team=TEAM_B)
    bot = await make_bot(database_url=db_url, SLACK_BOT_TOKEN=None, SLACK_CLIENT_ID=CLIENT_ID,
                         SLACK_CLIENT_SECRET=CLIENT_SECRET)
    fake.oauth_redirect_url = f"{bot.url}/slack/oauth_redirect"
    return bot


async def start_install(bot: Bot) -> tuple[str, str]:
    """Open /slack/install: the authorize link, and the state cookie the browser keeps."""
    async with bot.session.get(f"{bot.url}/slack/install", allow_redirects=False) as r:
        assert r.status == 200
        page = await r.text()
        cookie = r.headers["Set-Cookie"].split(";", 1)[0]
    link = html.unescape(re.search(r'<a href="([^"]+)"', page).group(1))  # type: ignore[union-attr]
    return link, cookie


async def approve(bot: Bot, link: str, team: str, installer: str) -> str:
    """The person approves on Slack's page; Slack sends them back to the redirect URL."""
    async with bot.session.get(f"{link}&team={team}&installer={installer}",
                               allow_redirects=False) as r:
        assert r.status == 302, await r.text()
        return r.headers["Location"]


async def callback(bot: Bot, url: str, cookie: str | None) -> tuple[int, str]:
    headers = {"Cookie": cookie} if cookie else {}
    async with bot.session.get(url, headers=headers, allow_redirects=False) as r:
        return r.status, await r.text()


async def install(bot: Bot, team: str, installer: str) -> None:
    link, cookie = await start_install(bot)
    status, page = await callback(bot, await approve(bot, link, team, installer), cookie)
    assert status == 200, page


async def count(bot: Bot, table: object) -> int:
    async with bot.fh.db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(table)))  # type: ignore[arg-type]


async def test_two_workspaces_side_by_side_never_see_each_other(
        oauth_bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    bot, fake = oauth_bot, oauth_bot.fake
    link, _ = await start_install(bot)
    assert link.startswith(f"{fake.base_url}oauth/v2/authorize?")
    assert f"client_id={CLIENT_ID}" in link and "scope=commands,chat:write," in link
    await install(bot, TEAM_ID, ALICE)
    await install(bot, TEAM_B, ERIN)
    assert await count(bot, BOTS) == 2
    accesses = fake.calls_to("oauth.v2.access")
    assert [c.args["client_secret"] for c in accesses] == [CLIENT_SECRET] * 2

    # Each workspace declares; each channel is made with that workspace's own token.
    await bot.command("declare sev1 Checkout down")
    reply = await bot.slack.command("declare sev2 Search slow", user=ERIN, channel=GENERAL_B,
                                    team_id=TEAM_B)
    assert reply.status == 200
    await bot.settle()
    incidents = {i.team_id: i for i in await bot.open_incidents()}
    a, b = incidents[TEAM_ID], incidents[TEAM_B]
    assert fake.channels[a.channel_id].team == TEAM_ID
    assert fake.channels[b.channel_id].team == TEAM_B
    assert [m.text for m in fake.channels[f"C0INC{TEAM_B}"].messages if "Search slow" in m.text]
    assert not [m for m in fake.channels[INCIDENTS_CHANNEL_ID].messages
                if "Search slow" in m.text]  # B's announcement stays in B
    # Work inside B's incident uses B's token throughout.
    await bot.slack.command("role ic me", user=FRANK, channel=b.channel_id, team_id=TEAM_B)
    await bot.slack.say(b.channel_id, FRANK, "Rolling back the indexer")
    await bot.settle()
    in_b = [c for c in fake.calls if b.channel_id in (c.args.get("channel"),
                                                     c.args.get("channel_id"))]
    assert in_b and {c.team for c in in_b} == {TEAM_B}

    # Lists, the Home and the figures show each workspace only its own.
    listed_a = await bot.command("list")
    assert "Checkout down" in listed_a and "Search slow" not in listed_a
    reply = await bot.slack.command("list", user=ERIN, channel=GENERAL_B, team_id=TEAM_B)
    assert "Search slow" in reply.text and "Checkout down" not in reply.text
    await bot.slack.event({"type": "app_home_opened", "user": ERIN, "tab": "home",
                           "channel": "D0ERIN", "event_ts": f"{time.time():.6f}"}, team=TEAM_B)
    await bot.settle()
    home_b = bot.fake.home_views[ERIN]
    assert home_b["team_id"] == TEAM_B
    assert "Search slow" in str(home_b) and "Checkout down" not in str(home_b)
    assert "Checkout down" not in str(bot.fake.home_views[FRANK])  # refreshed on his role
    await bot.slack.command("stats 7d", user=ERIN, channel=GENERAL_B, team_id=TEAM_B)
    await bot.settle()
    assert "*Incidents declared:* 1 (0 resolved)" in str(fake.responses[-1]["blocks"])

    # B uninstalls: its tokens are removed and its reminders stop; A carries on.
    fake.uninstall(TEAM_B)
    reply = await bot.slack.event({"type": "app_uninstalled"}, team=TEAM_B)
    assert reply.status == 200
    await bot.settle()
    async with bot.fh.db.read() as s:
        bots = (await s.execute(select(BOTS.c.team_id))).scalars().all()
        assert bots == [TEAM_ID]
        assert await reminder_rows.pending_reminders(s, b.id) == []
        assert await reminder_rows.pending_reminders(s, a.id) != []
    # A stray event from B afterwards: answered 200 and ignored, without an error logged.
    before = await count(bot, TimelineEntryRow.__table__)
    caplog.clear()
    stray = await bot.slack.say(b.channel_id, FRANK, "still here?")
    assert stray[1].status == 200
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    await bot.slack.say(a.channel_id, BOB, "Checkout error rate falling")
    await bot.settle()
    assert await count(bot, TimelineEntryRow.__table__) == before + 1  # only A's message


async def test_bad_oauth_callbacks_show_an_error_page_and_store_nothing(
        oauth_bot: Bot) -> None:
    bot = oauth_bot
    redirect = f"{bot.url}/slack/oauth_redirect"
    # No state at all, or no cookie to match it.
    status, page = await callback(bot, f"{redirect}?code=abc", None)
    assert status == 400 and "Foghorn was not installed" in page
    link, cookie = await start_install(bot)
    back = await approve(bot, link, TEAM_ID, ALICE)
    status, page = await callback(bot, back, None)
    assert status == 400 and "did not start in this browser" in page
    # A state that was never issued (the cookie forged to match it).
    status, page = await callback(bot, f"{redirect}?code=abc&state=forged",
                                  "slack-app-oauth-state=forged")
    assert status == 401 and "expired or was already used" in page
    # An expired state.
    link, cookie = await start_install(bot)
    back = await approve(bot, link, TEAM_ID, ALICE)
    async with bot.fh.db.engine.begin() as conn:
        await conn.execute(update(STATES).values(
            expire_at=datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)))
    status, page = await callback(bot, back, cookie)
    assert status == 401 and "expired or was already used" in page
    # A code Slack does not accept.
    link, cookie = await start_install(bot)
    state = re.search(r"state=([^&]+)", link).group(1)  # type: ignore[union-attr]
    status, page = await callback(bot, f"{redirect}?code=bogus&state={state}", cookie)
    assert status == 401 and "did not accept the authorization code" in page
    assert await count(bot, BOTS) == 0 and await count(bot, INSTALLS) == 0
    # The install is cancelled on Slack's page.
    status, page = await callback(bot, f"{redirect}?error=access_denied", None)
    assert "cancelled" in page and await count(bot, BOTS) == 0

    # A good install, then the same callback replayed: refused, still one installation.
    link, cookie = await start_install(bot)
    back = await approve(bot, link, TEAM_ID, ALICE)
    assert (await callback(bot, back, cookie))[0] == 200
    status, page = await callback(bot, back, cookie)
    assert status == 401 and "expired or was already used" in page
    assert await count(bot, BOTS) == 1 and await count(bot, INSTALLS) == 1


async def test_a_workspace_that_never_installed_is_not_served(oauth_bot: Bot) -> None:
    bot = oauth_bot
    reply = await bot.slack.command("declare sev1 Nope", user=ALICE, channel=GENERAL)
    assert reply.status == 200
    await bot.settle()
    assert await bot.open_incidents() == []
    assert bot.fake.calls_to("conversations.create") == []
    assert "reinstall" in bot.responses_text()


async def test_a_revoked_bot_token_removes_the_installation(oauth_bot: Bot) -> None:
    bot = oauth_bot
    await install(bot, TEAM_ID, ALICE)
    await bot.command("declare sev2 Search slow")
    bot.fake.uninstall(TEAM_ID)
    user_only = await bot.slack.event({"type": "tokens_revoked",
                                       "tokens": {"oauth": [ALICE], "bot": []}})
    assert user_only.status == 200 and await count(bot, BOTS) == 1  # not our token
    reply = await bot.slack.event({"type": "tokens_revoked",
                                   "tokens": {"oauth": [], "bot": ["UFOGHORNBOT"]}})
    assert reply.status == 200
    await bot.settle()
    assert await count(bot, BOTS) == 0 and await count(bot, INSTALLS) == 0
    [inc] = await bot.open_incidents()  # the record stays
    async with bot.fh.db.read() as s:
        assert await reminder_rows.pending_reminders(s, inc.id) == []
