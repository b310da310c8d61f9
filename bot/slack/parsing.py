"""`/incident <subcommand> ...` text → a typed command, or a friendly `Usage` message.

Pure functions of the text and the playbook: no I/O, never raises on any input.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from typing import TypeVar

from bot.incidents import stats
from bot.incidents.model import TEXT_LIMIT, TITLE_LIMIT, clip
from bot.playbooks import Playbook, is_pager, normalize_key
from bot.slack.parsed import (
    AddNote,
    AssignRole,
    ChangeSeverity,
    ChangeType,
    Command,
    Declare,
    DeclareModal,
    Help,
    ListOpen,
    PageOnCall,
    PostChecklist,
    Postmortem,
    PostUpdate,
    Resolve,
    ShowRunbook,
    ShowStats,
    ShowTimeline,
    Usage,
)
from bot.slack.text import escape, parse_user_mention, to_plain

__all__ = [  # the command types are made here and named through this module
    "USAGE",
    "AddNote",
    "AssignRole",
    "ChangeSeverity",
    "ChangeType",
    "Command",
    "Declare",
    "DeclareModal",
    "Help",
    "ListOpen",
    "PageOnCall",
    "PostChecklist",
    "PostUpdate",
    "Postmortem",
    "Resolve",
    "ShowRunbook",
    "ShowStats",
    "ShowTimeline",
    "Usage",
    "leading",
    "parse",
    "type_names",
    "unknown_type",
]

_SEVERITY_LIKE = re.compile(r"^(sev|p|s)[-_]?\d+$", re.IGNORECASE)
T = TypeVar("T")



_ALIASES = {
    "declare": "declare", "new": "declare", "open": "declare", "start": "declare",
    "role": "role", "assign": "role",
    "severity": "severity", "sev": "severity",
    "update": "update", "status": "update",
    "resolve": "resolve", "close": "resolve",
    "list": "list", "ls": "list",
    "note": "note", "timeline": "timeline", "log": "timeline",
    "postmortem": "postmortem", "pm": "postmortem",
    "checklist": "checklist", "checklists": "checklist",
    "stats": "stats", "metrics": "stats",
    "type": "type", "kind": "type",
    "runbook": "runbook",
    "page": "page",
    "help": "help", "?": "help",
}


# One line per subcommand, shown with "did you mean".
USAGE = {
    "declare": "`/incident declare [SEV] <title>`, e.g. `/incident declare sev1 Checkout "
               "down` (no title opens a form; `--private` for a private channel)",
    "role": "`/incident role <role> @person`, e.g. `/incident role ic @alice` (or `me`)",
    "severity": "`/incident severity <SEV>`, e.g. `/incident severity sev2`",
    "update": "`/incident update <status> <message>`, e.g. `/incident update identified Bad "
              "deploy, rolling back`",
    "resolve": "`/incident resolve [summary]`, e.g. `/incident resolve Rolled back to v1.42`",
    "list": "`/incident list [type]`: open incidents (of one type)",
    "type": "`/incident type <type>`, e.g. `/incident type security` (`--public` keeps a "
            "public channel for a private-by-default type)",
    "runbook": "`/incident runbook [type]`: the type's steps and commands",
    "page": "`/incident page <pagerduty:service | opsgenie:team> [message]`, e.g. "
            "`/incident page pagerduty:payments Checkout failing for everyone`",
    "note": "`/incident note <text>`, e.g. `/incident note Decided to fail over`",
    "timeline": "`/incident timeline`: the newest 50 timeline entries",
    "postmortem": "`/incident postmortem`: build the postmortem draft; "
                  "`/incident postmortem done` when the postmortem is written",
    "checklist": "`/incident checklist [id]`: post one of the playbook's checklists",
    "stats": "`/incident stats [7d|30d|90d]`: incident metrics",
    "help": "`/incident help`: every command",
}


def _split(text: str) -> tuple[str, str]:
    parts = text.strip().split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1] if len(parts) > 1 else ""


def _echo(word: str) -> str:
    """A word the person typed, safe to show back to them."""
    return escape(to_plain(word)[:40])


def _clipped(text: str, limit: int, what: str) -> tuple[str, str]:
    """`text` within `limit` characters, and what to tell the person if it was cut."""
    if len(text) <= limit:
        return text, ""
    return clip(text, limit), (f":scissors: Your {what} was {len(text):,} characters; "
                               f"Foghorn keeps the first {limit:,}.")


def _severities(pb: Playbook) -> str:
    return ", ".join(f"`{s.id}` ({s.name})" for s in pb.severities)


def parse(text: str, user: str, pb: Playbook) -> Command:
    """Parse the text after `/incident` typed by `user`."""
    word, rest = _split(text or "")
    if not word:
        return Help()
    sub = _ALIASES.get(word.lower())
    if sub is None:
        guess = difflib.get_close_matches(word.lower(), list(_ALIASES), n=1, cutoff=0.6)
        if not guess:
            return Usage(f"I don't know `{_echo(word)}`. `/incident help` lists every "
                         "command.")
        meant = _ALIASES[guess[0]]
        return Usage(f"I don't know `{_echo(word)}`; did you mean `{meant}`?\n"
                     f"{USAGE[meant]}")
    if sub == "help":
        return Help()
    if sub == "list":
        word = _split(rest)[0]
        if not word:
            return ListOpen()
        found = pb.find_type(word)
        return ListOpen(found.id) if found else Usage(unknown_type(word, pb))
    if sub == "type":
        return _change_type(rest, pb)
    if sub == "page":
        target, message = _split(rest)
        if not is_pager(target.lower()):
            return Usage(f"Page whom? {USAGE['page']}.")
        return PageOnCall(target.lower(), " ".join(to_plain(message).split())[:500])
    if sub == "runbook":
        word = _split(rest)[0]
        if not word:
            return ShowRunbook("")
        found = pb.find_type(word)
        return ShowRunbook(found.id) if found else Usage(unknown_type(word, pb))
    if sub == "declare":
        return _declare(rest, pb)
    if sub == "role":
        return _role(rest, user, pb)
    if sub == "severity":
        return _severity(rest, pb)
    if sub == "update":
        return _update(rest, pb)
    if sub == "note":
        note = to_plain(rest).strip()
        if not note:
            return Usage("Add the note's text, e.g. `/incident note Decided to fail over to "
                         "eu-west-2`.")
        return AddNote(*_clipped(note, TEXT_LIMIT, "note"))
    if sub == "timeline":
        return ShowTimeline()
    if sub == "stats":
        word = _split(rest)[0]
        period = stats.parse_period(word)
        if period is None:
            periods = ", ".join(f"`{p}`" for p in stats.PERIODS)
            return Usage(f"Unknown period `{_echo(word)}`. Use one of: {periods} "
                         f"(default `{stats.DEFAULT_PERIOD}`), e.g. `/incident stats 7d`.")
        return ShowStats(period)
    if sub == "postmortem":
        word = _split(rest)[0].lower()
        if word in ("done", "finished", "complete", "completed"):
            return Postmortem(done=True)
        if word and word not in ("draft", "build"):
            return Usage(f"Unknown `postmortem {_echo(word)}`. Use {USAGE['postmortem']}.")
        return Postmortem()
    if sub == "checklist":
        word = _split(rest)[0]
        if word and pb.checklist(word.lower()) is None:
            known = ", ".join(f"`{c.id}`" for c in pb.checklists) or "none"
            return Usage(f"No checklist `{_echo(word)}`. Checklists: {known}.")
        return PostChecklist(word.lower())
    return Resolve(*_clipped(to_plain(rest).strip(), TEXT_LIMIT, "summary"))


def leading(words: list[str], find: Callable[[str], T | None], most: int = 4
            ) -> tuple[T | None, int]:
    """The longest run of leading words (up to `most`) that names something `find` knows,
    and how many words it took: `sev 1`, `P 0`, `Incident Commander`. (None, 0) if none."""
    for n in range(min(most, len(words)), 0, -1):
        if n > 1 and not all(normalize_key(w) for w in words[:n]):
            continue  # `sev3 🔥` is `sev3` and a title, not one longer name
        found = find(" ".join(words[:n]))
        if found is not None:
            return found, n
    return None, 0


def _declare(rest: str, pb: Playbook) -> Command:
    flags = _flags(rest.split(), pb)
    if isinstance(flags, Usage):
        return flags
    words, is_private, type_id = flags
    type_id, words = _type_prefix(words, pb, type_id)
    found, used = leading(words, pb.find_severity, most=2)
    severity = found.id if found is not None else None
    looks_like = next((c for c in (" ".join(words[:2]), " ".join(words[:1]))
                       if c and _SEVERITY_LIKE.match(c.replace(" ", ""))), None)
    if found is None and looks_like:
        return Usage(f"Unknown severity `{_echo(looks_like)}`. Use one of: {_severities(pb)}.")
    type_id, words = _type_prefix(words[used:], pb, type_id)
    title = " ".join(to_plain(" ".join(words)).split())
    if not title:
        return DeclareModal(severity=severity, is_private=is_private, type=type_id)
    title, notice = _clipped(title, TITLE_LIMIT, "title")
    return Declare(title=title, severity=severity, is_private=is_private, notice=notice,
                   type=type_id)


def _flags(words: list[str], pb: Playbook) -> tuple[list[str], bool | None, str | None] | Usage:
    """`--private`, `--public` and `--type X` (or `--type=X`) taken out of the words."""
    kept: list[str] = []
    private: bool | None = None
    type_id: str | None = None
    rest = iter(words)
    for word in rest:
        low = word.lower()
        if low in ("--private", "--public"):
            private = low == "--private"
        elif low == "--type" or low.startswith("--type="):
            value = low.partition("=")[2] or next(rest, "")
            found = pb.find_type(value)
            if found is None:
                return Usage(unknown_type(value, pb))
            type_id = found.id
        else:
            kept.append(word)
    return kept, private, type_id


def _type_prefix(words: list[str], pb: Playbook, type_id: str | None
                 ) -> tuple[str | None, list[str]]:
    """`security: Suspicious logins`: a leading type name with a colon picks the type."""
    if type_id is None and words and words[0].endswith(":"):
        found = pb.find_type(words[0][:-1])
        if found is not None:
            return found.id, words[1:]
    return type_id, words


def unknown_type(word: str, pb: Playbook) -> str:
    if not pb.types:
        return "This playbook has no incident types."
    return f"Unknown type `{_echo(word)}`. Types: {type_names(pb)}."


def type_names(pb: Playbook) -> str:
    return "; ".join(f"`{t.id}` ({t.name}: {t.description})" if t.description
                     else f"`{t.id}` ({t.name})" for t in pb.types)


def _change_type(rest: str, pb: Playbook) -> Command:
    words = rest.split()
    keep_public = any(w.lower() == "--public" for w in words)
    words = [w for w in words if w.lower() != "--public"]
    if not pb.types:
        return Usage("This playbook has no incident types.")
    if not words:
        return Usage(f"Which type? e.g. `/incident type security`. Types: {type_names(pb)}.")
    found, _ = leading(words, pb.find_type, most=3)
    if found is None:
        return Usage(unknown_type(" ".join(words), pb))
    return ChangeType(found.id, keep_public)


def _role(rest: str, user: str, pb: Playbook) -> Command:
    roles = ", ".join(f"`{r.id}` ({r.name})" for r in pb.roles)
    words = rest.split()
    if not words:
        return Usage(f"Which role? e.g. `/incident role ic @alice`. Roles: {roles}.")
    role, used = leading(words, pb.find_role)  # `Incident Commander` is two words
    if role is None:
        return Usage(f"Unknown role `{_echo(words[0])}`. Roles: {roles}.")
    who_word = words[used] if len(words) > used else ""
    if who_word.lower() == "me":
        return AssignRole(role=role.id, user=user)
    target = parse_user_mention(who_word) if who_word else None
    if target is None:
        return Usage(
            f"Mention the person to make {role.name}: `/incident role {role.id} @alice` "
            "(type @ and pick them from the list), or `me` for yourself."
        )
    return AssignRole(role=role.id, user=target)


def _severity(rest: str, pb: Playbook) -> Command:
    words = rest.split()
    if not words:
        return Usage(f"Which severity? e.g. `/incident severity sev1`. Use one of: "
                     f"{_severities(pb)}.")
    found, _ = leading(words, pb.find_severity, most=2)
    if found is None:
        return Usage(f"Unknown severity `{_echo(' '.join(words[:2]))}`. Use one of: "
                     f"{_severities(pb)}.")
    return ChangeSeverity(severity=found.id)


def _update(rest: str, pb: Playbook) -> Command:
    statuses = ", ".join(f"`{s.id}`" for s in pb.open_statuses)
    word, message = _split(rest)
    if not word:
        return Usage(f"Post an update as `/incident update <status> <message>`, e.g. "
                     f"`/incident update identified Bad deploy, rolling back`. "
                     f"Statuses: {statuses}.")
    status = pb.find_status(word)
    if status is None:
        return Usage(f"Unknown status `{_echo(word)}`. Use one of: {statuses}.")
    if status.id == "resolved":
        return Usage("To resolve the incident, use `/incident resolve [summary]`.")
    message = to_plain(message).strip()
    if not message:
        return Usage(f"Add what you know: `/incident update {status.id} <message>`, e.g. "
                     f"`/incident update {status.id} Rolled back the deploy`.")
    message, notice = _clipped(message, TEXT_LIMIT, "update")
    return PostUpdate(status=status.id, message=message, notice=notice)
