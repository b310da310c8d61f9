"""`foghorn export`: an incident's postmortem draft (Markdown) or raw timeline (JSON) on stdout.

Reads the database directly. People's names come from Slack when a bot token is configured;
otherwise (or if Slack does not answer) their user IDs are shown.
"""

from __future__ import annotations

import sys
from typing import TextIO

from bot.app import build
from bot.config import Settings
from bot.incidents.postmortem import timeline_json


async def export(settings: Settings, ref: str, fmt: str, out: TextIO = sys.stdout) -> int:
    fh = await build(settings)
    try:
        inc = await fh.service.find(ref)
        if inc is None:
            print(f"foghorn: no incident matches {ref!r} (give a channel ID, channel name or "
                  "INC-n)", file=sys.stderr)
            return 1
        if fmt == "json":
            out.write(timeline_json(inc, await fh.service.timeline.entries(inc.id)) + "\n")
        else:
            out.write(await fh.service.draft_postmortem(inc) + "\n")
        return 0
    finally:
        await fh.workspaces.close()
        await fh.db.close()
