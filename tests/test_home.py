"""The App Home: what it shows each person, its refresh on changes, Block Kit's limits."""

from __future__ import annotations

import time
from datetime import timedelta

from bot.slack import blocks
from bot.store import repo
from bot.testing.blockkit import RULES, view_problems
from tests.conftest import ALICE, BOB, CAROL, DAN, Bot


async def open_home(bot: Bot, user: str) -> dict:
    reply = await bot.slack.event({"type": "app_home_opened", "user": user, "tab": "home",
                                   "channel": "D0HOME", "event_ts": f"{time.time():.6f}"})
    assert reply.status == 200
    await bot.settle()
    return bot.fake.home_views[user]


def texts(view: dict) -> list[str]:
    out = []
    for b in view["blocks"]:
        if isinstance(b.get("text"), dict):
            out.append(b["text"]["text"])
        out += [e.get("text", "") for e in b.get("elements", []) if b["type"] == "context"]
    return out


async def test_home_shows_my_incidents_open_ones_by_severity_and_the_last_resolved(
        bot: Bot) -> None:
    t0 = bot.clock.now
    sev2, _ = await bot.declare("sev2 Search slow", user=ALICE)
    bot.clock.now = t0 + timedelta(minutes=5)
    sev1, _ = await bot.declare("sev1 Checkout down", user=BOB)
    await bot.declare("sev1 --private Payroll leak", user=CAROL)
    done, _ = await bot.declare("sev3 Old export bug", user=BOB)
    await bot.command("role ic me", user=ALICE, channel=sev2.channel_id)
    await bot.command("role tl me", user=ALICE, channel=sev1.channel_id)
    bot.clock.now = t0 + timedelta(minutes=20)
    await bot.command("update identified Index rebuild", channel=sev2.channel_id)
    bot.clock.now = t0 + timedelta(minutes=65)
    await bot.command("resolve Fixed the export", channel=done.channel_id)

    view = await open_home(bot, ALICE)
    assert view_problems(view) == []
    lines = texts(view)
    assert view["type"] == "home"
    assert blocks.DECLARE_BUTTON in str(view["blocks"])
    mine = next(t for t in lines if t.startswith("*Your incidents*"))
    assert f"*SEV1* <#{sev1.channel_id}> Checkout down: you are Tech Lead" in mine
    assert f"*SEV2* <#{sev2.channel_id}> Search slow: you are Incident Commander" in mine
    # Open incidents: most severe first, each with status, age, IC and last update.
    assert "Open incidents (2)" in str(view["blocks"])  # the private one is not Alice's
    open_titles = [t for t in lines if t.startswith(("*SEV1* <#", "*SEV2* <#"))
                   and ": you are" not in t]
    assert open_titles == [f"*SEV1* <#{sev1.channel_id}> Checkout down",
                           f"*SEV2* <#{sev2.channel_id}> Search slow"]
    sev2_context = lines[lines.index(open_titles[1]) + 1]
    assert "1h 5m old" in sev2_context and f"IC: <@{ALICE}>" in sev2_context
    assert "last update 45m ago" in sev2_context
    sev1_context = lines[lines.index(open_titles[0]) + 1]
    assert "IC: _unassigned_" in sev1_context and "1h old" in sev1_context
    resolved = next(t for t in lines if "Old export bug" in t)
    assert "resolved 0s ago after 1h" in resolved
    assert "Payroll leak" not in str(view)

    carol = await open_home(bot, CAROL)  # the private incident's declarer sees it
    assert "Open incidents (3)" in str(carol["blocks"]) and "Payroll leak" in str(carol)


async def test_home_is_refreshed_for_the_people_concerned_when_an_incident_changes(
        bot: Bot) -> None:
    await open_home(bot, DAN)  # Dan looked at his Home earlier today

    async def change(text: str, **kw: str) -> list[str]:
        """Run a command; whose Home it republished (each person once per change)."""
        first = len(bot.fake.calls_to("views.publish"))
        await bot.command(text, **kw)
        users = [c.args["user_id"] for c in bot.fake.calls_to("views.publish")[first:]]
        assert len(users) == len(set(users)), users
        return users

    assert sorted(await change("declare sev2 Search slow")) == [ALICE, DAN]
    [inc] = await bot.open_incidents()
    assert "Search slow" in str(bot.fake.home_views[DAN])
    # Bob never opened his Home, but taking a role concerns him.
    assert sorted(await change("role ic me", user=BOB, channel=inc.channel_id)) == [
        ALICE, BOB, DAN]
    assert "you are Incident Commander" in str(bot.fake.home_views[BOB])
    # Bob hands over: his Home no longer lists the incident as his.
    assert BOB in await change(f"role ic <@{CAROL}>", user=BOB, channel=inc.channel_id)
    assert "You hold no role in an open incident" in str(bot.fake.home_views[BOB])
    assert "you are Incident Commander" in str(bot.fake.home_views[CAROL])
    await change("severity sev1", channel=inc.channel_id)
    assert "*SEV1*" in str(bot.fake.home_views[DAN])
    await change("resolve Fixed", channel=inc.channel_id)
    dan = texts(bot.fake.home_views[DAN])
    assert "No open incidents" in " ".join(dan)
    assert any("Search slow" in t and "resolved" in t for t in dan)


async def test_home_stays_within_100_blocks_however_many_are_open(bot: Bot) -> None:
    now = bot.clock.now
    async with bot.fh.db.write() as s:
        for i in range(120):
            await repo.insert_incident(
                s, title=f"Incident number {i} " + "x" * 140, severity=f"SEV{1 + i % 4}",
                status="investigating", is_private=False, setup_done=True, declared_by=BOB,
                declared_at=now - timedelta(minutes=i), last_update_at=now,
                channel_id=f"C{i:08d}", channel_name=f"incident-{i}", team_id="T0FOGHORN")
    view = await open_home(bot, ALICE)
    assert view_problems(view) == []
    assert len(view["blocks"]) <= RULES["view_blocks"].limit
    assert "Open incidents (120)" in str(view["blocks"])
    assert "…and 80 more: `/incident list` shows them all." in str(view["blocks"])
    shown = [t for t in texts(view) if t.startswith("*SEV")]
    assert len(shown) == blocks.HOME_INCIDENTS
    assert all(t.startswith("*SEV1*") for t in shown[:30])  # most severe first
