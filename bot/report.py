"""`foghorn stats`: incident metrics from the database, on the command line.

Reads the database only (no Slack token, no migration, no file created): run it wherever the
bot's DATABASE_URL and PLAYBOOKS_DIR are reachable.
"""

from __future__ import annotations

import sys
from typing import TextIO

from bot.config import Settings
from bot.incidents import stats
from bot.incidents.model import utcnow
from bot.incidents.service import load_stats
from bot.playbooks import load_playbooks
from bot.store.opening import open_existing


async def print_stats(settings: Settings, period: str, team_id: str | None,
                      out: TextIO = sys.stdout) -> int:
    playbook = load_playbooks(settings.playbooks_dir)
    db = await open_existing(settings.DATABASE_URL, settings.DATABASE_TIMEOUT)
    try:
        st = await load_stats(db, playbook, period, utcnow(), team_id)
    finally:
        await db.close()
    tz = settings.tz
    scope = f" in workspace {team_id}" if team_id else ""
    out.write(f"Incidents declared{scope} from {st.since.astimezone(tz):%Y-%m-%d %H:%M} to "
              f"{st.until.astimezone(tz):%Y-%m-%d %H:%M %Z} (last {period})\n")
    rows = stats.rows(st, playbook)
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        out.write(f"  {label.ljust(width)}  {value}\n")
    return 0
