"""Channel names, the slug builder, durations and safe echo of user text."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.durations import DurationError, format_duration, parse_duration
from bot.incidents.naming import channel_name, is_valid_channel_name, slugify
from bot.slack.text import escape, parse_user_mention, to_plain

DAY = date(2026, 11, 23)


@pytest.mark.parametrize(("title", "slug"), [
    ("Checkout API returning 500s", "checkout-api-returning-500s"),
    ("Café crème: Über-slow!!", "cafe-creme-uber-slow"),
    ("  --DB__down--  ", "db-down"),
    ("🔥🔥", ""),
    ("Łódź ĳ ß Øresund", "lodz-ij-ss-oresund"),
])
def test_slugify(title: str, slug: str) -> None:
    assert slugify(title) == slug


def test_channel_name_shape_and_fallback() -> None:
    assert channel_name("DB down", DAY, "inc-7") == "incident-20261123-db-down"
    assert channel_name("🔥", DAY, "inc-7") == "incident-20261123-inc-7"
    assert channel_name("DB down", DAY, "inc-7", attempt=3) == "incident-20261123-db-down-3"


def test_long_title_is_cut_at_a_word_boundary() -> None:
    name = channel_name("alpha " * 40, DAY, "inc-1")
    assert len(name) <= 80 and name.endswith("alpha")
    with_suffix = channel_name("alpha " * 40, DAY, "inc-1", attempt=12)
    assert len(with_suffix) <= 80 and with_suffix.endswith("alpha-12")


def test_one_long_word_is_cut_hard() -> None:
    name = channel_name("x" * 300, DAY, "inc-1")
    assert len(name) == 80 and is_valid_channel_name(name)


@given(st.text(max_size=400), st.integers(min_value=1, max_value=99))
def test_any_title_gives_a_valid_channel_name(title: str, attempt: int) -> None:
    name = channel_name(title, DAY, "inc-42", attempt)
    assert is_valid_channel_name(name) and len(name) <= 80
    assert name.startswith("incident-20261123-") and not name.endswith("-")
    assert "--" not in name.removeprefix("incident-20261123-")


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90), ("30m", 1800), ("1h", 3600), ("2d", 172800), ("1h30m", 5400), (" 4H ", 14400),
])
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "30", "m", "5x", "-1h", "0m", "1.5h", "400d"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


@given(st.text(max_size=50))
def test_parse_duration_never_crashes(text: str) -> None:
    with contextlib.suppress(DurationError):
        assert parse_duration(text).total_seconds() > 0


def test_format_duration() -> None:
    assert [format_duration(timedelta(seconds=s)) for s in (5, 600, 3600, 5400, 93600)] == [
        "5s", "10m", "1h", "1h 30m", "1d 2h"]


@pytest.mark.parametrize(("slack", "plain"), [
    ("<!channel> hi", "@channel hi"),
    ("<!here|here>", "@here"),
    ("<!everyone>", "@everyone"),
    ("<@U123|bob> and <@W9>", "@bob and @W9"),
    ("<!subteam^S1|@oncall>", "@oncall"),
    ("<https://evil.example|click here>", "click here (https://evil.example)"),
    ("<https://ok.example>", "https://ok.example"),
    ("<#C123|general>", "#general"),
    ("a &lt;b&gt; &amp; c", "a <b> & c"),
])
def test_to_plain(slack: str, plain: str) -> None:
    assert to_plain(slack) == plain


@given(st.text(max_size=300))
def test_escaped_text_contains_no_live_sequence(text: str) -> None:
    out = escape(to_plain(text))
    assert "<" not in out and ">" not in out


def test_parse_user_mention() -> None:
    assert parse_user_mention("<@U123ABC|bob>") == "U123ABC"
    assert parse_user_mention("<@W0ABC>") == "W0ABC"
    assert parse_user_mention("@bob") is None
    assert parse_user_mention("<!channel>") is None
