"""`foghorn export`: an incident's postmortem draft (Markdown) or raw timeline (JSON) on stdout.

Reads the database only: no Slack token, no Slack call, no migration, no file created. People
are named as Slack last named them (remembered when the incident was resolved or its draft
built); anyone never named shows as their user ID.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn, TextIO, cast

from bot.config import Settings
from bot.incidents.ports import ChatPort
from bot.incidents.postmortem import timeline_json
from bot.incidents.service import IncidentService
from bot.playbooks import load_playbooks
from bot.store.opening import open_existing


class _NoChat:
    """The chat side of a read-only command: any call to it is a bug, said as such."""

    def __getattr__(self, name: str) -> Any:
        def refuse(*_args: object, **_kwargs: object) -> NoReturn:
            raise RuntimeError(f"foghorn export reads the database only (it tried {name})")
        return refuse


async def export(settings: Settings, ref: str, fmt: str, out: TextIO = sys.stdout) -> int:
    playbook = load_playbooks(settings.playbooks_dir)
    db = await open_existing(settings.DATABASE_URL, settings.DATABASE_TIMEOUT)
    try:
        service = IncidentService(db, playbook, cast(ChatPort, _NoChat()), tz=settings.tz)
        inc = await service.find(ref)
        if inc is None:
            print(f"foghorn: no incident matches {ref!r} (give a channel ID, channel name or "
                  "INC-n)", file=sys.stderr)
            return 1
        if fmt == "json":
            out.write(timeline_json(inc, await service.timeline.entries(inc.id)) + "\n")
        else:
            out.write(await service.draft_postmortem(inc, ask_chat=False) + "\n")
        return 0
    finally:
        await db.close()
