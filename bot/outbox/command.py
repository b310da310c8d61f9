"""`foghorn outbox`: what the reactions to incident events and the alert intake have not
done yet, and what they gave up on (parked), with ways to try again or drop.

    foghorn outbox [list] [--all]      parked (and, with --all, waiting) work, one line each
    foghorn outbox retry ID...|--all   parked work tried again from now, attempts reset
    foghorn outbox drop ID...          give up on it for good

IDs are as `list` prints them: `d12` is the delivery of an event to a subscriber, `a7` an
alert notification. A running Foghorn picks retried work up within seconds. Lines name the
incident, the event and the error, never message text.
"""

from __future__ import annotations

import sys
from typing import TextIO

from bot.config import Settings
from bot.incidents.model import utcnow
from bot.store import alert_rows, outbox_rows
from bot.store.db import Database
from bot.store.opening import open_existing

LIMIT = 500


def _ids(given: list[str], prefix: str) -> list[int]:
    return [int(i[1:]) for i in given if i.startswith(prefix) and i[1:].isdigit()]


async def outbox(settings: Settings, action: str, ids: list[str], every: bool,
                 out: TextIO = sys.stdout) -> int:
    bad = [i for i in ids if not (i[:1] in ("d", "a") and i[1:].isdigit())]
    if bad:
        print(f"foghorn: {bad[0]!r} is not an id from `foghorn outbox list` (d12, a7)",
              file=sys.stderr)
        return 2
    if action in ("retry", "drop") and not ids and not (every and action == "retry"):
        print(f"foghorn: say which: `foghorn outbox {action} d12 a7`"
              + (" or --all" if action == "retry" else ""), file=sys.stderr)
        return 2
    db = await open_existing(settings.DATABASE_URL, settings.DATABASE_TIMEOUT)
    try:
        if action == "list":
            return await _list(db, every, out)
        async with db.write() as s:
            now = utcnow()
            if action == "retry":
                n = await outbox_rows.retry_parked(s, None if every else _ids(ids, "d"), now)
                n += await alert_rows.retry_parked(s, None if every else _ids(ids, "a"))
                out.write(f"{n} tried again from now\n")
            else:
                n = await outbox_rows.drop(s, _ids(ids, "d"))
                n += await alert_rows.drop_parked(s, _ids(ids, "a"))
                out.write(f"{n} dropped\n")
        return 0
    finally:
        await db.close()


async def _list(db: Database, every: bool, out: TextIO) -> int:
    statuses = ((outbox_rows.PARKED, outbox_rows.PENDING, outbox_rows.CLAIMED) if every
                else (outbox_rows.PARKED,))
    now = utcnow()
    async with db.read() as s:
        rows = await outbox_rows.listing(s, statuses, LIMIT)
        notes = await alert_rows.parked_notifications(s, LIMIT)
        waiting, oldest, _ = await alert_rows.waiting(s, now)
    for d, e in rows:
        inc = f"INC-{e.incident_id}" if e.incident_id else "-"
        out.write(f"d{d.id}\t{d.status}\t{d.subscriber}\t{inc}\t{e.kind}\t"
                  f"attempts={d.attempts}\t{d.last_error or ''}\n")
    for n in notes:
        out.write(f"a{n.id}\tparked\talert-intake\t-\t{n.source} notification\t"
                  f"attempts={n.attempts}\t{n.last_error or ''}\n")
    if every and waiting:
        out.write(f"alert notifications waiting: {waiting} (oldest {oldest:.0f} s)\n")
    if not rows and not notes:
        out.write("nothing parked" + (" or waiting" if every else "") + "\n")
    return 0
