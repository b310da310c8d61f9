"""Incident metrics (`/incident stats`, `foghorn stats`) from a scripted set of incidents
whose answers are known."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from bot.config import load_settings
from bot.incidents import stats
from bot.incidents.model import Incident, TimelineEntry
from bot.playbooks import load_playbooks
from bot.report import print_stats
from tests.conftest import ALICE, BOB, CAROL, ROOT, Bot, BotFactory, Clock

NOW = datetime.now(UTC).replace(microsecond=0)


async def _script(bot: Bot) -> None:
    """Four incidents; the comments give what each contributes to the figures."""
    async def at(start: datetime, minutes: int, text: str, channel: str, user: str = ALICE
                 ) -> None:
        bot.clock.now = start + timedelta(minutes=minutes)
        await bot.command(text, user=user, channel=channel)

    # A: SEV1, IC after 4m, updates at 20m (on time) and 70m (50m > 30m: late),
    #    resolved at 90m, draft built, postmortem marked done.
    a0 = bot.clock.now = NOW - timedelta(days=2)
    a, _ = await bot.declare("sev1 Checkout down")
    await at(a0, 4, "role ic me", a.channel_id, BOB)
    await at(a0, 20, "update investigating Looking at the load balancer", a.channel_id)
    await at(a0, 70, "update identified Bad deploy", a.channel_id)
    await at(a0, 90, "resolve Rolled back", a.channel_id)
    await at(a0, 95, "postmortem", a.channel_id)
    await at(a0, 600, "postmortem done", a.channel_id, BOB)
    # B: SEV2, IC after 10m, update at 30m (on time for SEV2's 1h), raised to SEV1 at 40m,
    #    update at 80m (50m under SEV1's 30m: late), resolved at 3h, a draft built but
    #    never marked done: a draft, not a postmortem.
    b0 = bot.clock.now = NOW - timedelta(days=1)
    b, _ = await bot.declare("sev2 Search slow")
    await at(b0, 10, "role ic me", b.channel_id, CAROL)
    await at(b0, 30, "update investigating Index rebuild", b.channel_id)
    await at(b0, 40, "severity sev1", b.channel_id)
    await at(b0, 80, "update identified Rebuilding the index", b.channel_id)
    await at(b0, 180, "resolve Index rebuilt", b.channel_id)
    await at(b0, 190, "postmortem", b.channel_id)
    # C: SEV3, still open, no IC, no update.
    bot.clock.now = NOW - timedelta(hours=3)
    await bot.declare("sev3 Flaky exports")
    # D: SEV4 ten days ago (only in 30d): IC after 1m, an update at 5m (no cadence),
    #    resolved at 2h; SEV4 needs no postmortem.
    d0 = bot.clock.now = NOW - timedelta(days=10)
    d, _ = await bot.declare("sev4 Typo on the status page")
    await at(d0, 1, "role ic me", d.channel_id, BOB)
    await at(d0, 5, "update identified Fixing the copy", d.channel_id)
    await at(d0, 120, "resolve Fixed", d.channel_id)
    bot.clock.now = NOW


async def test_stats_command_reports_known_figures(make_bot: BotFactory) -> None:
    bot = await make_bot(clock=Clock(NOW))
    await _script(bot)
    await bot.command("stats 7d", channel="C0GENERAL")
    report = bot.fake.responses[-1]
    text = report["blocks"][1]["text"]["text"]
    assert report["response_type"] == "ephemeral"
    assert "Incident metrics, last 7 days" in report["text"]
    assert "*Incidents declared:* 3 (2 resolved)" in text
    assert "*By severity:* SEV1 2, SEV3 1 (1 open)" in text
    assert "*MTTA (declared → IC assigned):* median 7m, p90 10m (2 incidents)" in text
    assert "*MTTR (declared → resolved):* median 2h 15m, p90 3h (2 incidents)" in text
    assert "*Time to first update:* median 25m, p90 30m (2 incidents)" in text
    assert "*Updates on cadence:* 50% (2 of 4 updates)" in text
    assert "*Postmortems done:* 50% (1 of 2 required)" in text
    assert "*Postmortem drafts (not done):* 1" in text

    await bot.command("stats", channel="C0GENERAL")  # 30 days by default: D counts too
    text = bot.fake.responses[-1]["blocks"][1]["text"]["text"]
    assert "*Incidents declared:* 4 (3 resolved)" in text
    assert "*By severity:* SEV1 2, SEV3 1 (1 open), SEV4 1" in text
    assert "*MTTA (declared → IC assigned):* median 4m, p90 10m (3 incidents)" in text
    assert "*MTTR (declared → resolved):* median 2h, p90 3h (3 incidents)" in text
    assert "*Time to first update:* median 20m, p90 30m (3 incidents)" in text
    assert "*Updates on cadence:* 50% (2 of 4 updates)" in text  # SEV4 has no cadence
    assert "*Postmortems done:* 50% (1 of 2 required)" in text

    # The same figures on the command line, from the database alone.
    out = io.StringIO()
    settings = load_settings(DATABASE_URL=bot.fh.settings.DATABASE_URL,
                             PLAYBOOKS_DIR=ROOT / "playbooks")
    assert await print_stats(settings, "90d", None, out) == 0
    printed = out.getvalue()
    assert "Incidents declared             4 (3 resolved)" in printed
    assert "MTTR (declared → resolved)     median 2h, p90 3h (3 incidents)" in printed


async def test_stats_with_a_bad_period_lists_the_accepted_ones(bot: Bot) -> None:
    reply = await bot.command("stats 5x")
    assert "Unknown period `5x`" in reply and "`7d`, `30d`, `90d`" in reply
    assert bot.fake.responses == []  # nothing computed, nothing posted


async def test_stats_with_no_incidents_says_so(bot: Bot) -> None:
    await bot.command("stats 90d")
    text = bot.fake.responses[-1]["blocks"][1]["text"]["text"]
    assert "*Incidents declared:* 0 (0 resolved)" in text
    assert "*MTTA (declared → IC assigned):* no data" in text


def _inc(i: int, declared: datetime, severity: str = "SEV1", **kw: object) -> Incident:
    return Incident(id=i, title="t", description="", severity=severity, status="resolved",
                    is_private=False, declared_by=ALICE, declared_at=declared,
                    last_update_at=declared, **kw)  # type: ignore[arg-type]


def _entry(i: int, inc: int, at: datetime, kind: str, **data: object) -> TimelineEntry:
    return TimelineEntry(id=i, incident_id=inc, kind=kind, occurred_at=at, actor=ALICE,
                         text="", data=dict(data))


def test_p90_is_nearest_rank_and_median_interpolates() -> None:
    values = [timedelta(minutes=m) for m in (1, 2, 3, 4, 5, 6, 7, 8, 9, 100)]
    spread = stats.Spread.of(values)
    assert spread.median == timedelta(minutes=5, seconds=30)
    assert spread.p90 == timedelta(minutes=9)
    assert stats.Spread.of([*values, timedelta(minutes=200)]).p90 == timedelta(minutes=100)


def test_cadence_uses_the_severity_in_force_at_each_update() -> None:
    pb = load_playbooks(ROOT / "playbooks")
    t0 = NOW - timedelta(hours=5)
    inc = _inc(1, t0, "SEV3")  # now SEV3; was SEV1 until the change at 2h
    m = lambda minutes: t0 + timedelta(minutes=minutes)  # noqa: E731
    log = [
        _entry(1, 1, m(25), "status_update"),  # SEV1, 25m: on time
        _entry(2, 1, m(60), "status_update"),  # SEV1, 35m: late
        _entry(3, 1, m(120), "severity_changed", **{"from": "SEV1", "to": "SEV3"}),
        _entry(4, 1, m(230), "status_update"),  # SEV3, 2h50m: on time
    ]
    st = stats.compute([inc], log, pb, "7d", NOW)
    assert (st.cadence.done, st.cadence.total) == (2, 3)
    assert st.time_to_first_update.median == timedelta(minutes=25)
    assert st.time_to_ack.count == 0  # no IC ever: not counted as zero


def test_incidents_outside_the_period_are_left_out() -> None:
    pb = load_playbooks(ROOT / "playbooks")
    old = _inc(1, NOW - timedelta(days=8), resolved_at=NOW - timedelta(days=7, hours=23))
    new = _inc(2, NOW - timedelta(days=1), resolved_at=NOW - timedelta(hours=23))
    st = stats.compute([old, new], [], pb, "7d", NOW)
    assert st.declared == 1 and st.time_to_resolve.median == timedelta(hours=1)
    assert stats.parse_period(" 90D ") == "90d" and stats.parse_period("") == "30d"
    assert stats.parse_period("5x") is None
