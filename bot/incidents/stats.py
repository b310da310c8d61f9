"""Incident metrics over a period: the team's KPIs from the seeds (MTTA, MTTR, time to first
update, update-cadence adherence, postmortem completion), as medians and p90s.

Pure code: it takes incidents and the few timeline entries that matter and returns figures.
Definitions (also in README):
- the period holds the incidents *declared* in it;
- MTTD: detected (the first alert's start, or the time the declarer gave) → declared, for
  incidents with a detection time;
- MTTA: declared → the first Incident Commander assigned;
- MTTR: declared → resolved (resolved incidents only);
- time to first update: declared → the first status update;
- cadence adherence: of the status updates posted while the severity had an `update_every`,
  the share that came at most that long after the previous update (or the declaration),
  using the severity in force at the time;
- postmortem completion: of the resolved incidents whose final severity requires a
  postmortem, the share someone marked done; drafts built but not marked done are counted
  apart (a generated draft is not a postmortem).
p90 is the nearest-rank percentile: the smallest value at least 90% of the values reach.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.durations import format_duration
from bot.incidents.model import Incident, TimelineEntry
from bot.incidents.postmortem import compute_figures
from bot.playbooks import Playbook

PERIODS = {"7d": timedelta(days=7), "30d": timedelta(days=30), "90d": timedelta(days=90)}
DEFAULT_PERIOD = "30d"
# The timeline entries the figures are computed from.
KINDS = ("role_assigned", "status_update", "severity_changed")


@dataclass(frozen=True)
class Spread:
    """Median and p90 of a set of durations (None when there are none)."""

    count: int
    median: timedelta | None
    p90: timedelta | None

    @classmethod
    def of(cls, values: list[timedelta]) -> Spread:
        if not values:
            return cls(0, None, None)
        seconds = sorted(v.total_seconds() for v in values)
        rank = max(1, math.ceil(0.9 * len(seconds)))
        return cls(len(seconds), timedelta(seconds=statistics.median(seconds)),
                   timedelta(seconds=seconds[rank - 1]))


@dataclass(frozen=True)
class Share:
    done: int
    total: int

    @property
    def ratio(self) -> float | None:
        return self.done / self.total if self.total else None


@dataclass(frozen=True)
class Stats:
    period: str
    since: datetime
    until: datetime
    declared: int
    resolved: int
    by_severity: dict[str, int] = field(default_factory=dict)
    open_by_severity: dict[str, int] = field(default_factory=dict)
    time_to_detect: Spread = Spread(0, None, None)
    time_to_ack: Spread = Spread(0, None, None)
    time_to_resolve: Spread = Spread(0, None, None)
    time_to_first_update: Spread = Spread(0, None, None)
    cadence: Share = Share(0, 0)
    postmortems: Share = Share(0, 0)
    postmortem_drafts: int = 0  # required, draft built, not marked done
    # Per incident type (id, '' for none): (declared, MTTA, MTTR).
    by_type: dict[str, tuple[int, Spread, Spread]] = field(default_factory=dict)


def parse_period(text: str) -> str | None:
    """`7d`, `30d` or `90d` (any case, '' for the default); None for anything else."""
    word = text.strip().lower() or DEFAULT_PERIOD
    return word if word in PERIODS else None


def compute(incidents: list[Incident], entries: list[TimelineEntry], playbook: Playbook,
            period: str, now: datetime) -> Stats:
    """Figures for the incidents declared in the `period` before `now`. `entries` are the
    incidents' timeline entries of KINDS (others are ignored)."""
    since = now - PERIODS[period]
    chosen = [i for i in incidents if since <= i.declared_at <= now]
    by_incident: dict[int, list[TimelineEntry]] = {i.id: [] for i in chosen}
    for e in sorted(entries, key=lambda e: (e.occurred_at, e.id)):
        if e.incident_id in by_incident:
            by_incident[e.incident_id].append(e)
    ack, resolve, first_update, detect = [], [], [], []
    typed: dict[str, tuple[list[timedelta], list[timedelta]]] = {}
    on_time = updates = pm_done = pm_due = pm_drafts = 0
    for inc in chosen:
        log = by_incident[inc.id]
        # the same figures as the postmortem's
        figures = compute_figures(inc, log, now, playbook.commander.id)
        type_ack, type_resolve = typed.setdefault(inc.type or "", ([], []))
        if figures.time_to_detect is not None:
            detect.append(figures.time_to_detect)
        if figures.time_to_commander is not None:
            ack.append(figures.time_to_commander)
            type_ack.append(figures.time_to_commander)
        if figures.time_to_resolve is not None:
            type_resolve.append(figures.time_to_resolve)
        if figures.time_to_first_update is not None:
            first_update.append(figures.time_to_first_update)
        if figures.time_to_resolve is not None:
            resolve.append(figures.time_to_resolve)
            sev = playbook.find_severity(inc.severity)
            if sev is not None and sev.postmortem_required:
                pm_due += 1
                pm_done += inc.postmortem_done_at is not None
                pm_drafts += inc.postmortem_done_at is None and inc.postmortem_at is not None
        done, total = _cadence(inc, log, playbook)
        on_time, updates = on_time + done, updates + total
    return Stats(
        period=period, since=since, until=now, declared=len(chosen), resolved=len(resolve),
        by_severity=dict(Counter(i.severity for i in chosen)),
        open_by_severity=dict(Counter(i.severity for i in chosen if i.resolved_at is None)),
        time_to_detect=Spread.of(detect),
        time_to_ack=Spread.of(ack), time_to_resolve=Spread.of(resolve),
        time_to_first_update=Spread.of(first_update),
        cadence=Share(on_time, updates), postmortems=Share(pm_done, pm_due),
        postmortem_drafts=pm_drafts,
        by_type={t: (sum(1 for i in chosen if (i.type or "") == t), Spread.of(a), Spread.of(r))
                 for t, (a, r) in typed.items()},
    )


def _cadence(inc: Incident, log: list[TimelineEntry], playbook: Playbook) -> tuple[int, int]:
    """(updates on time, updates counted) for one incident, replaying severity changes."""
    changes = [e for e in log if e.kind == "severity_changed"]
    severity = str(changes[0].data.get("from")) if changes else inc.severity
    previous = inc.declared_at
    on_time = total = 0
    for e in log:
        if e.kind == "severity_changed":
            severity = str(e.data.get("to") or severity)
        elif e.kind == "status_update":
            sev = playbook.find_severity(severity)
            if sev is not None and sev.update_every is not None:
                total += 1
                on_time += e.occurred_at - previous <= sev.update_every
            previous = e.occurred_at
    return on_time, total


def rows(st: Stats, playbook: Playbook) -> list[tuple[str, str]]:
    """The figures as (label, value) rows, for Slack and the command line alike."""
    order = [s.id for s in playbook.severities]
    seen = sorted(st.by_severity, key=lambda s: (order.index(s) if s in order else len(order), s))
    by_sev = ", ".join(
        f"{s} {st.by_severity[s]}"
        + (f" ({st.open_by_severity[s]} open)" if st.open_by_severity.get(s) else "")
        for s in seen) or "none"
    return [
        ("Incidents declared", f"{st.declared} ({st.resolved} resolved)"),
        ("By severity", by_sev),
        ("MTTD (detected → declared)", _spread(st.time_to_detect)),
        (f"MTTA (declared → {playbook.commander.short_name} assigned)", _spread(st.time_to_ack)),
        ("MTTR (declared → resolved)", _spread(st.time_to_resolve)),
        ("Time to first update", _spread(st.time_to_first_update)),
        ("Updates on cadence", _share(st.cadence, "updates")),
        ("Postmortems done", _share(st.postmortems, "required")),
        ("Postmortem drafts (not done)", str(st.postmortem_drafts)),
        *_type_rows(st, playbook),
    ]


def _type_rows(st: Stats, playbook: Playbook) -> list[tuple[str, str]]:
    """One row per incident type seen, in the playbook's order: count, MTTA, MTTR."""
    if not playbook.types or not st.by_type:
        return []
    order = [t.id for t in playbook.types]
    rows = []
    for type_id in sorted(st.by_type, key=lambda t: (order.index(t) if t in order
                                                     else len(order), t)):
        count, to_ack, to_resolve = st.by_type[type_id]
        name = playbook.type_name(type_id) or "No type"
        rows.append((f"  {name}", f"{count} declared · MTTA {_median(to_ack)} · MTTR "
                                  f"{_median(to_resolve)}"))
    return [("By type", ""), *rows]


def _median(s: Spread) -> str:
    return format_duration(s.median) if s.median is not None else "no data"


def _spread(s: Spread) -> str:
    if s.median is None or s.p90 is None:
        return "no data"
    return (f"median {format_duration(s.median)}, p90 {format_duration(s.p90)} "
            f"({s.count} incident{'s' if s.count != 1 else ''})")


def _share(s: Share, what: str) -> str:
    if s.ratio is None:
        return "no data"
    return f"{s.ratio:.0%} ({s.done} of {s.total} {what})"

