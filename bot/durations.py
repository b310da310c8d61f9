"""Durations as people write them in playbooks and commands: `90s`, `30m`, `1h`, `2d`, `1h30m`."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)\s*([smhdw])")
_WHOLE = re.compile(r"^(?:\d+\s*[smhdw]\s*)+$")


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> timedelta:
    """Parse `30m`, `1h`, `1h30m`, `2d`… into a positive timedelta, else DurationError."""
    if not isinstance(text, str):
        raise DurationError("must be a duration string such as 90s, 30m, 1h or 2d")
    s = text.strip().lower()
    if not s or not _WHOLE.match(s):
        raise DurationError(f"{text!r} is not a duration (use e.g. 90s, 30m, 1h, 2d)")
    seconds = sum(int(n) * _UNITS[u] for n, u in _PART.findall(s))
    if seconds <= 0:
        raise DurationError(f"{text!r} must be longer than zero")
    if seconds > 366 * 86400:
        raise DurationError(f"{text!r} is longer than a year")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """Render a timedelta for people: `45s`, `12m`, `1h 5m`, `2d 3h`."""
    total = max(0, int(delta.total_seconds()))
    days, rem = divmod(total, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, seconds = divmod(rem, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m"
    return f"{seconds}s"
