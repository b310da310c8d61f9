"""The timeline and the incident metrics, as private answers."""

from __future__ import annotations

from bot.incidents import stats
from bot.incidents.model import Incident, TimelineEntry
from bot.incidents.postmortem import Style, describe
from bot.slack.blocks.common import (
    HEADER_LIMIT,
    MESSAGE_BLOCKS,
    SECTION_LIMIT,
    TIMELINE_ENTRY_LIMIT,
    Blocks,
    PresenterBase,
    _context,
    _plain,
    _section,
)
from bot.slack.text import escape, link, truncate


class Reports(PresenterBase):
    # ----- the timeline -------------------------------------------------------------------
    def timeline(self, inc: Incident, entries: list[TimelineEntry], total: int
                 ) -> tuple[str, Blocks]:
        """The newest entries, oldest first, in sections that stay inside Block Kit's limits."""
        style = Style(person=lambda u: f"<@{u}>" if u else "Foghorn",
                      link=lambda name, url: link(url, escape(name)),
                      text=escape)
        older = total - len(entries)
        head = f"*Timeline of {inc.label}: {escape(truncate(inc.title, 200))}*"
        head += (f"\nThe newest {len(entries)} of {total} entries; {older} older ones are in "
                 "`/incident postmortem`." if older else f"\n{total} entries.")
        lines = []
        for e in entries:
            who = f"<@{e.actor}>" if e.actor else "Foghorn"
            text = truncate(describe(e, self.playbook, style), TIMELINE_ENTRY_LIMIT)
            line = f"`{self.when(e.occurred_at)}` {who}: {text}"
            lines.append(f":pushpin: *{line}*" if e.key_event else line)
        blocks: Blocks = [_section(head)]
        chunk = ""
        for line in lines or ["_Nothing recorded yet._"]:
            if chunk and len(chunk) + len(line) + 1 > SECTION_LIMIT:
                blocks.append(_section(chunk))
                chunk = ""
            chunk = f"{chunk}\n{line}" if chunk else line
        blocks.append(_section(chunk))
        return f"Timeline of {inc.label}", blocks[:MESSAGE_BLOCKS]

    def stats(self, st: stats.Stats) -> tuple[str, Blocks]:
        days = (st.until - st.since).days
        head = (f"Incident metrics, last {days} days "
                f"({st.since.astimezone(self.tz):%Y-%m-%d} to {self.when(st.until)})")
        lines = [f"• {escape(label.strip())}: {value}" if label.startswith(" ")
                 else f"*{label}:* {value}".rstrip()
                 for label, value in stats.rows(st, self.playbook)]
        return head, [
            {"type": "header", "text": _plain(truncate(head, HEADER_LIMIT))},
            _section("\n".join(lines)),
            _context("Periods: `/incident stats 7d`, `30d` or `90d`. MTTA: declared to first "
                     f"{self.playbook.commander.name}; MTTR: declared to resolved; p90: 9 in "
                     "10 were faster. Counts incidents declared in the period."),
        ]
