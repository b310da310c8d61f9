"""The parts of a playbook: severities, roles, statuses, templates, links, checklists, and
the small rules they share (durations, Slack targets, what people may type)."""

from __future__ import annotations

import re
import string
import unicodedata
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.durations import DurationError, parse_duration

# Placeholders each template may use; values are filled in as Slack mrkdwn.
TEMPLATE_FIELDS: dict[str, frozenset[str]] = {
    "announcement": frozenset(
        {"severity", "severity_name", "title", "description", "status", "channel",
         "declared_by", "commander", "incident_id", "type"}
    ),
    "status_update": frozenset(
        {"severity", "severity_name", "title", "status", "message", "author", "next_update",
         "commander", "incident_id", "type"}
    ),
    "resolution": frozenset(
        {"severity", "severity_name", "title", "duration", "summary", "resolved_by",
         "postmortem", "channel", "incident_id", "type"}
    ),
    # Markdown, read outside Slack: values are plain text with people's names.
    "postmortem": frozenset(
        {"title", "incident_id", "severity", "severity_name", "severity_history", "status",
         "channel", "started", "ended", "duration", "impact", "summary", "roles", "figures",
         "key_events", "timeline", "timezone", "generated", "checklists", "type"}
    ),
}


class PlaybookError(Exception):
    """A playbook problem, phrased as `file: path: problem`."""


def normalize_key(text: str) -> str:
    """Fold user-typed text for matching: `SEV-1`, `sev1`, `Sev_1` → `sev1`. Letters and
    digits of every script count (`Платежи` and `支付` keep theirs); case, width, accents'
    composed forms, spaces and punctuation do not."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def _duration(v: Any, *, allow_none: bool) -> timedelta | None:
    if v is None:
        if allow_none:
            return None
        raise ValueError("is required (a duration such as 15m)")
    if isinstance(v, timedelta):
        return v
    if not isinstance(v, str):
        raise ValueError(f"{v!r} is not a duration string (use e.g. 90s, 30m, 1h, 2d)")
    try:
        return parse_duration(v)
    except DurationError as exc:
        raise ValueError(str(exc)) from None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# A user (U…/W…), a user group (S…), a channel ID (C…/G…) or a channel name (#…); a pager:
# `pagerduty:<service>` or `opsgenie:<team>`, named in PAGERDUTY_KEYS / OPSGENIE_KEYS; or, in
# an escalation, `role:<id>`: whoever holds that role in the incident, by direct message.
_TARGET = re.compile(r"^(@?[UW][A-Z0-9]{2,}|S[A-Z0-9]{2,}|[CG][A-Z0-9]{2,}|#[a-z0-9_-]{1,80}"
                     r"|(pagerduty|opsgenie):[A-Za-z0-9_.-]{1,60}|role:[A-Za-z0-9_-]{1,30})$")
PAGERS = ("pagerduty", "opsgenie")


def check_targets(targets: tuple[str, ...]) -> tuple[str, ...]:
    for target in targets:
        if not _TARGET.match(target):
            raise ValueError(
                f"{target!r} is not a target: use a user ID (U…), a user group ID (S…), "
                "a channel ID (C…), #channel-name, pagerduty:<service>, opsgenie:<team> or "
                "(in an escalation) role:<role id>")
    return targets


def check_notify(targets: tuple[str, ...]) -> tuple[str, ...]:
    """Targets told at declare: no role has a holder to tell yet."""
    for target in check_targets(targets):
        if target.startswith("role:"):
            raise ValueError(f"{target!r}: role:<id> targets are for escalations (at declare "
                             "nobody holds the role yet)")
    return targets


def is_pager(target: str) -> bool:
    return target.partition(":")[0] in PAGERS and ":" in target


class EscalationStep(Strict):
    """Notify `notify` when the incident is still open `after` its declaration."""

    after: timedelta
    notify: tuple[str, ...] = Field(min_length=1)
    note: str = ""

    @field_validator("after", mode="before")
    @classmethod
    def _after(cls, v: Any) -> timedelta | None:
        return _duration(v, allow_none=False)

    @field_validator("notify")
    @classmethod
    def _targets(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return check_targets(v)


def target_kind(target: str) -> str:
    """`user`, `usergroup`, `channel`, `role`, `pagerduty` or `opsgenie` for a validated
    target."""
    if is_pager(target):
        return target.partition(":")[0]
    if target.startswith("role:"):
        return "role"
    t = target.lstrip("@")
    if t[0] in "UW":
        return "user"
    if t[0] == "S":
        return "usergroup"
    return "channel"


class Severity(Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,20}$")
    name: str = Field(min_length=1, max_length=40)
    description: str = ""
    aliases: tuple[str, ...] = ()
    response_time: timedelta
    update_every: timedelta | None = None
    postmortem_required: bool = False
    postmortem_due_after: timedelta = timedelta(hours=48)
    escalation: tuple[EscalationStep, ...] = ()
    # Told at declare: users are invited, user groups mentioned, channels sent a notice.
    notify: tuple[str, ...] = ()
    default: bool = False

    @field_validator("response_time", mode="before")
    @classmethod
    def _response_time(cls, v: Any) -> timedelta | None:
        return _duration(v, allow_none=False)

    @field_validator("update_every", mode="before")
    @classmethod
    def _update_every(cls, v: Any) -> timedelta | None:
        return _duration(v, allow_none=True)

    @field_validator("postmortem_due_after", mode="before")
    @classmethod
    def _postmortem_due(cls, v: Any) -> timedelta | None:
        return _duration(v, allow_none=False)

    @field_validator("notify")
    @classmethod
    def _notify(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return check_notify(v)

    @model_validator(mode="after")
    def _sensible(self) -> Severity:
        steps = [s.after for s in self.escalation]
        if steps != sorted(steps):
            raise ValueError("escalation steps must be in order of `after`")
        return self

    def match_keys(self) -> set[str]:
        """What people type for this severity: its id and aliases in any case and spacing
        (`SEV 1`, `sev-1`), and `S1` for `SEV1`."""
        keys = {normalize_key(k) for k in (self.id, *self.aliases)}
        return keys | {"s" + k[3:] for k in keys if k.startswith("sev") and k[3:].isdigit()}


class Role(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,19}$")
    name: str = Field(min_length=1, max_length=40)
    aliases: tuple[str, ...] = ()
    summary: str = ""
    responsibilities: tuple[str, ...] = ()
    # The role that commands the incident: the nudges ask for it, MTTA is measured to it,
    # reminders go to its holder. Exactly one role has it (a role with id `ic` has it when
    # none says so).
    commands: bool = False

    def match_keys(self) -> set[str]:
        return {normalize_key(k) for k in (self.id, self.name, *self.aliases)}

    @property
    def short_name(self) -> str:
        """`IC` for "Incident Commander": the initials of a name of several words."""
        words = self.name.split()
        return "".join(w[0].upper() for w in words) if len(words) > 1 else self.name


class Status(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,19}$")
    name: str = Field(min_length=1, max_length=40)
    emoji: str = ""
    description: str = ""


class Templates(Strict):
    announcement: str = Field(min_length=1, max_length=3000)
    status_update: str = Field(min_length=1, max_length=3000)
    resolution: str = Field(min_length=1, max_length=3000)
    postmortem: str = Field(min_length=1, max_length=20000)

    @model_validator(mode="after")
    def _placeholders(self) -> Templates:
        for name, allowed in TEMPLATE_FIELDS.items():
            text = getattr(self, name)
            try:
                fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
            except ValueError as exc:
                raise ValueError(f"{name}: {exc} (write a literal brace as {{{{ or }}}})") from None
            for f in fields:
                if f not in allowed:
                    raise ValueError(
                        f"{name}: unknown placeholder {{{f}}}; "
                        f"available: {', '.join('{' + a + '}' for a in sorted(allowed))}"
                    )
        return self


class Link(Strict):
    """A link added to incident channels as a bookmark (and listed on the card)."""

    title: str = Field(min_length=1, max_length=60)
    url: str = Field(pattern=r"^https?://\S+$", max_length=500)
    severities: tuple[str, ...] = ()  # empty: every severity
    war_room: bool = False  # also posted in the channel at declare: "Join the war room"


class ChecklistItem(Strict):
    text: str = Field(min_length=1, max_length=150)
    link: str | None = Field(default=None, pattern=r"^https?://\S+$", max_length=500)
    command: str | None = None  # a runbook command of the item's type, shown to copy


class Checklist(Strict):
    """A list posted in the incident channel `when` something happens: `declare`, a status
    id (`identified`, `resolved`…) or `demand` (only with `/incident checklist <id>`)."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    title: str = Field(min_length=1, max_length=100)
    when: str = "demand"
    severities: tuple[str, ...] = ()  # empty: every severity
    owner: str | None = None  # a role id
    # Resolving while this list (once posted) has unticked items asks for confirmation.
    before_resolve: bool = False
    items: tuple[ChecklistItem, ...] = Field(min_length=1, max_length=40)


def unique(section: str, items: list[tuple[str, set[str]]]) -> None:
    """Ids must be unique, and no typed name may match two different items."""
    ids = [item_id for item_id, _ in items]
    for item_id in ids:
        if ids.count(item_id) > 1:
            raise ValueError(f"{section}: the id {item_id} is used twice")
    owner: dict[str, str] = {}
    for item_id, keys in items:
        for k in sorted(keys):
            if owner.setdefault(k, item_id) != item_id:
                raise ValueError(f"{section}: {item_id} and {owner[k]} both answer to {k!r}")
