"""Playbook schema (pydantic) and loader with precise error messages.

A playbook is a YAML file holding what a team customises: severities, roles, statuses and
message templates. `load_playbooks(dir)` validates every `*.yml`/`*.yaml` in the folder and
returns the active one (`default.yml`, or the only file). Any problem raises `PlaybookError`
whose message names the file, the path inside it (e.g. `severities[2].update_every`) and the
problem.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.durations import DurationError, format_duration, parse_duration

# Placeholders each template may use; values are filled in as Slack mrkdwn.
TEMPLATE_FIELDS: dict[str, frozenset[str]] = {
    "announcement": frozenset(
        {"severity", "severity_name", "title", "description", "status", "channel",
         "declared_by", "commander", "incident_id"}
    ),
    "status_update": frozenset(
        {"severity", "severity_name", "title", "status", "message", "author", "next_update",
         "commander", "incident_id"}
    ),
    "resolution": frozenset(
        {"severity", "severity_name", "title", "duration", "summary", "resolved_by",
         "postmortem", "channel", "incident_id"}
    ),
    # Markdown, read outside Slack: values are plain text with people's names.
    "postmortem": frozenset(
        {"title", "incident_id", "severity", "severity_name", "severity_history", "status",
         "channel", "started", "ended", "duration", "impact", "summary", "roles", "figures",
         "key_events", "timeline", "timezone", "generated", "checklists"}
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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# A user (U…/W…), a user group (S…), a channel ID (C…/G…) or a channel name (#…).
_TARGET = re.compile(r"^(@?[UW][A-Z0-9]{2,}|S[A-Z0-9]{2,}|[CG][A-Z0-9]{2,}|#[a-z0-9_-]{1,80})$")


def _check_targets(targets: tuple[str, ...]) -> tuple[str, ...]:
    for target in targets:
        if not _TARGET.match(target):
            raise ValueError(
                f"{target!r} is not a target: use a user ID (U…), a user group ID (S…), "
                "a channel ID (C…) or #channel-name")
    return targets


class EscalationStep(_Strict):
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
        return _check_targets(v)


def target_kind(target: str) -> str:
    """`user`, `usergroup` or `channel` for a validated escalation target."""
    t = target.lstrip("@")
    if t[0] in "UW":
        return "user"
    if t[0] == "S":
        return "usergroup"
    return "channel"


class Severity(_Strict):
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
        return _check_targets(v)

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


class Role(_Strict):
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


class Status(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,19}$")
    name: str = Field(min_length=1, max_length=40)
    emoji: str = ""
    description: str = ""


class Templates(_Strict):
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


class Link(_Strict):
    """A link added to incident channels as a bookmark (and listed on the card)."""

    title: str = Field(min_length=1, max_length=60)
    url: str = Field(pattern=r"^https?://\S+$", max_length=500)
    severities: tuple[str, ...] = ()  # empty: every severity
    war_room: bool = False  # also posted in the channel at declare: "Join the war room"


class ChecklistItem(_Strict):
    text: str = Field(min_length=1, max_length=150)
    link: str | None = Field(default=None, pattern=r"^https?://\S+$", max_length=500)


class Checklist(_Strict):
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


PERMISSION_ACTIONS = ("resolve", "severity", "update", "role")


class Playbook(_Strict):
    name: str = Field(min_length=1, max_length=80)
    severities: tuple[Severity, ...] = Field(min_length=1)
    roles: tuple[Role, ...] = Field(min_length=1, max_length=10)
    statuses: tuple[Status, ...] = Field(min_length=2)
    templates: Templates
    # Who may do what, e.g. {resolve: [ic, declarer]}: role ids, `declarer` or `anyone`.
    # An action not listed is open to anyone in the incident channel.
    permissions: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    checklists: tuple[Checklist, ...] = ()
    links: tuple[Link, ...] = ()
    # Channels cleared to hear about private incidents. A private incident's escalations and
    # notices reach people (DM, invite) and user groups (mentioned inside its own channel);
    # a channel outside it hears only if it is listed here.
    private_channels: tuple[str, ...] = ()
    # Ask for one more click before a severity changes two levels or more at once, or the
    # top severity is lowered.
    confirm_severity_changes: bool = True

    @field_validator("private_channels")
    @classmethod
    def _private_channels(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for target in _check_targets(v):
            if target_kind(target) != "channel":
                raise ValueError(f"{target!r} is not a channel (#name or a C/G id)")
        return v

    def may_hear_private(self, target: str) -> bool:
        """Whether a channel target may be told about private incidents."""
        key = target.lstrip("#").lower()
        return any(key == c.lstrip("#").lower() for c in self.private_channels)

    @field_validator("permissions")
    @classmethod
    def _permissions(cls, v: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for action, who in v.items():
            if action not in PERMISSION_ACTIONS:
                raise ValueError(f"unknown action {action!r}; use one of "
                                 f"{', '.join(PERMISSION_ACTIONS)}")
            if not who:
                raise ValueError(f"{action}: list who may do it (or `anyone`)")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Playbook:
        _unique("severities", [(s.id, s.match_keys()) for s in self.severities])
        _unique("roles", [(r.id, r.match_keys()) for r in self.roles])
        commanding = [r.id for r in self.roles if r.commands]
        if len(commanding) > 1:
            raise ValueError(f"roles: only one role may have `commands: true` (found "
                             f"{', '.join(commanding)})")
        if not commanding and self.role("ic") is None:
            raise ValueError("roles: mark the role that commands the incident with "
                             "`commands: true` (no role has it, and no role has id `ic`)")
        _unique("statuses", [(s.id, {normalize_key(s.id)}) for s in self.statuses])
        defaults = [s.id for s in self.severities if s.default]
        if len(defaults) != 1:
            raise ValueError(
                "severities: exactly one severity must have `default: true` "
                f"(found {len(defaults)}: {', '.join(defaults) or 'none'})"
            )
        if "resolved" not in {s.id for s in self.statuses}:
            raise ValueError("statuses: a status with id `resolved` is required")
        if self.statuses[0].id == "resolved":
            raise ValueError("statuses: the first status is the initial one and cannot be resolved")
        _unique("checklists", [(c.id, {c.id}) for c in self.checklists])
        statuses, severities = {s.id for s in self.statuses}, {s.id for s in self.severities}
        for i, cl in enumerate(self.checklists):
            if cl.when not in statuses | {"declare", "demand"}:
                raise ValueError(f"checklists[{i}].when: {cl.when!r} is not `declare`, "
                                 f"`demand` or a status ({', '.join(sorted(statuses))})")
            if cl.owner is not None and self.role(cl.owner) is None:
                raise ValueError(f"checklists[{i}].owner: {cl.owner!r} is not a role id")
            for sev in cl.severities:
                if sev not in severities:
                    raise ValueError(f"checklists[{i}].severities: unknown severity {sev!r}")
        for i, link in enumerate(self.links):
            for sev in link.severities:
                if sev not in severities:
                    raise ValueError(f"links[{i}].severities: unknown severity {sev!r}")
        known = {r.id for r in self.roles} | {"declarer", "anyone"}
        for action, who in self.permissions.items():
            for w in who:
                if w not in known:
                    raise ValueError(f"permissions.{action}: {w!r} is not a role id, "
                                     "`declarer` or `anyone`")
        return self

    # Lookups used by the command parser and the service.
    @property
    def commander(self) -> Role:
        """The commanding role (validated: there is one)."""
        found = next((r for r in self.roles if r.commands), None) or self.role("ic")
        assert found is not None
        return found

    def commander_of(self, roles: Mapping[str, str]) -> str | None:
        """Who holds the commanding role, given an incident's roles."""
        return roles.get(self.commander.id)

    @property
    def default_severity(self) -> Severity:
        return next(s for s in self.severities if s.default)

    @property
    def initial_status(self) -> Status:
        return self.statuses[0]

    @property
    def open_statuses(self) -> tuple[Status, ...]:
        return tuple(s for s in self.statuses if s.id != "resolved")

    def find_severity(self, text: str) -> Severity | None:
        key = normalize_key(text)
        return next((s for s in self.severities if key in s.match_keys()), None)

    def severity(self, sev_id: str) -> Severity:
        found = next((s for s in self.severities if s.id == sev_id), None)
        # An incident stored under a severity that a later playbook dropped still renders.
        return found or Severity(id=sev_id, name=sev_id, response_time=timedelta(hours=1))

    def severity_rank(self, sev_id: str) -> int:
        ids = [s.id for s in self.severities]
        return ids.index(sev_id) if sev_id in ids else len(ids)

    def find_role(self, text: str) -> Role | None:
        key = normalize_key(text)
        return next((r for r in self.roles if key in r.match_keys()), None)

    def links_for(self, severity: str) -> list[Link]:
        return [k for k in self.links if not k.severities or severity in k.severities]

    def checklist(self, checklist_id: str) -> Checklist | None:
        return next((c for c in self.checklists if c.id == checklist_id), None)

    def checklists_for(self, when: str, severity: str) -> list[Checklist]:
        return [c for c in self.checklists
                if c.when == when and (not c.severities or severity in c.severities)]

    def role(self, role_id: str) -> Role | None:
        return next((r for r in self.roles if r.id == role_id), None)

    def find_status(self, text: str) -> Status | None:
        key = normalize_key(text)
        return next(
            (s for s in self.statuses if key in {normalize_key(s.id), normalize_key(s.name)}),
            None,
        )

    def status(self, status_id: str) -> Status:
        found = next((s for s in self.statuses if s.id == status_id), None)
        return found or Status(id=status_id, name=status_id.title())


def _unique(section: str, items: list[tuple[str, set[str]]]) -> None:
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


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def parse_playbook(text: str, source: str) -> Playbook:
    """Validate one playbook's YAML text; `source` names it in error messages."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PlaybookError(f"{source}: {where}invalid YAML ({problem})") from None
    if not isinstance(data, dict):
        raise PlaybookError(f"{source}: a playbook must be a mapping with name, severities, ...")
    try:
        return Playbook.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        path = _format_loc(tuple(err["loc"]))
        msg = err["msg"].removeprefix("Value error, ")
        ctx = err.get("ctx") or {}
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling)"
        elif err["type"] == "missing":
            msg = "is required"
        elif err["type"] == "too_short":
            least = ctx.get("min_length")
            msg = f"needs at least {least} entr{'y' if least == 1 else 'ies'}"
        elif err["type"] == "too_long":
            msg = f"may have at most {ctx.get('max_length')} entries"
        elif err["type"] in ("string_too_short", "string_too_long"):
            msg = f"must be {ctx.get('min_length', 0)} to {ctx.get('max_length', '…')} characters"
        elif err["type"] == "string_pattern_mismatch":
            msg = f"{err.get('input')!r} may use only letters, digits, - and _"
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        prefix = f"{source}: {path}: " if path else f"{source}: "
        raise PlaybookError(f"{prefix}{msg}{more}") from None


def playbook_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise PlaybookError(f"{directory}: playbooks folder not found (set PLAYBOOKS_DIR)")
    files = sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")])
    if not files:
        raise PlaybookError(f"{directory}: no playbook (*.yml) in this folder")
    return files


def active_file(directory: Path) -> Path:
    """The playbook in use: `default.yml`, or the folder's only playbook."""
    files = playbook_files(directory)
    for f in files:
        if f.name in ("default.yml", "default.yaml"):
            return f
    if len(files) == 1:
        return files[0]
    raise PlaybookError(
        f"{directory}: several playbooks ({', '.join(f.name for f in files)}) and none is "
        "default.yml; name the one to use default.yml"
    )


def load_playbooks(directory: Path) -> Playbook:
    """Validate every playbook in `directory` and return the active one."""
    loaded = {p: parse_playbook(p.read_text(encoding="utf-8"), str(p))
              for p in playbook_files(directory)}
    return loaded[active_file(directory)]


def playbook_warnings(pb: Playbook) -> list[str]:
    """Choices that are allowed but worth a second look, printed by `check-playbooks` and at
    start-up (a real policy may want them: SEV1 updates every 10m, a 15m response time)."""
    warnings = []
    for i, sev in enumerate(pb.severities):
        if sev.update_every is not None and sev.response_time > sev.update_every:
            respond, update = map(format_duration, (sev.response_time, sev.update_every))
            warnings.append(
                f"severities[{i}] ({sev.id}): response_time ({respond}) is longer than "
                f"update_every ({update}): the first update reminder comes before anyone is "
                "expected to have responded")
    return warnings


def escalation_targets(pb: Playbook) -> list[tuple[str, str]]:
    """(path inside the playbook, target) for every escalation target."""
    return [(f"severities[{i}].escalation[{j}].notify[{k}]", target)
            for i, sev in enumerate(pb.severities)
            for j, step in enumerate(sev.escalation)
            for k, target in enumerate(step.notify)] + [
        (f"severities[{i}].notify[{k}]", target)
        for i, sev in enumerate(pb.severities) for k, target in enumerate(sev.notify)] + [
        (f"private_channels[{k}]", target) for k, target in enumerate(pb.private_channels)]
