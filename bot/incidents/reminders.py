"""When the bot must speak up: the rules that plan reminder rows. Pure functions.

- update: `update_every` after the declaration, then after every status update; a severity
  change re-plans it to max(now, last update + the new cadence); resolving cancels it.
- ic_nudge: at `response_time` and twice that after the declaration, if nobody is IC yet.
- escalation: each of the severity's steps, `after` the declaration, while still open.
- postmortem: `postmortem_due_after` the resolution for severities that require one, then
  daily until the draft exists or someone marks it done.
Conditions are checked again when a row fires, so a stale row stays silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.playbooks import Severity

UPDATE, IC_NUDGE, ESCALATION, POSTMORTEM = "update", "ic_nudge", "escalation", "postmortem"
POSTMORTEM_REPEAT = timedelta(days=1)
IC_NUDGES = (1, 2)  # multiples of the response time


@dataclass(frozen=True)
class Planned:
    kind: str
    due_at: datetime
    step: int = 0


def next_update(sev: Severity, last_update_at: datetime, now: datetime) -> datetime | None:
    """When the next update reminder is due, or None for a severity without a cadence."""
    if sev.update_every is None:
        return None
    return max(now, last_update_at + sev.update_every)


def on_declare(sev: Severity, declared_at: datetime) -> list[Planned]:
    planned = [Planned(IC_NUDGE, declared_at + sev.response_time * n, n) for n in IC_NUDGES]
    if sev.update_every is not None:
        planned.append(Planned(UPDATE, declared_at + sev.update_every))
    planned += [Planned(ESCALATION, declared_at + step.after, i)
                for i, step in enumerate(sev.escalation)]
    return planned


def on_severity_change(sev: Severity, declared_at: datetime, last_update_at: datetime,
                       now: datetime, *, has_commander: bool) -> list[Planned]:
    """The rows to plan afresh (after cancelling pending ones of these kinds) for `sev`."""
    planned = []
    due = next_update(sev, last_update_at, now)
    if due is not None:
        planned.append(Planned(UPDATE, due))
    if not has_commander:
        planned += [Planned(IC_NUDGE, max(now, declared_at + sev.response_time * n), n)
                    for n in IC_NUDGES if declared_at + sev.response_time * n > now]
    planned += [Planned(ESCALATION, max(now, declared_at + step.after), i)
                for i, step in enumerate(sev.escalation)]
    return planned


def on_resolve(sev: Severity, resolved_at: datetime) -> list[Planned]:
    if not sev.postmortem_required:
        return []
    return [Planned(POSTMORTEM, resolved_at + sev.postmortem_due_after)]
