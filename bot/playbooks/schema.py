"""The playbook as a whole: its parts, the rules across them, and the lookups the bot uses."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from pydantic import Field, field_validator, model_validator

from bot.playbooks.alert_routes import AlertRoute, check_routes
from bot.playbooks.parts import (
    Checklist,
    Link,
    Role,
    Severity,
    Status,
    Strict,
    Templates,
    check_targets,
    normalize_key,
    target_kind,
    unique,
)
from bot.playbooks.types import IncidentType, check_types, suggest

PERMISSION_ACTIONS = ("resolve", "severity", "update", "role", "type")


class Playbook(Strict):
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
    # Kinds of incident, each adding its own checklists, roles, notices and runbook (types.py).
    types: tuple[IncidentType, ...] = ()
    # What an alert group from monitoring becomes (alert_routes.py), tried in order.
    alert_routes: tuple[AlertRoute, ...] = ()

    @field_validator("private_channels")
    @classmethod
    def _private_channels(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for target in check_targets(v):
            if target_kind(target) != "channel":
                raise ValueError(f"{target!r} is not a channel (#name or a C/G id)")
        return v

    def may_hear_private(self, target: str) -> bool:
        """Whether a channel target may be told about private incidents."""
        key = target.lstrip("#").lower()
        return any(key == c.lstrip("#").lower() for c in self.private_channels)

    def reaches(self, target: str, *, private: bool) -> bool:
        """Whether escalating to `target` tells anyone of an incident (a private one's:
        people, user groups mentioned in its channel, role holders and pagers; a channel
        only if cleared in `private_channels`)."""
        return (not private or target_kind(target) != "channel"
                or self.may_hear_private(target))

    def reaches_privately(self, sev: Severity) -> bool:
        """Whether a private incident at `sev` (as its type has it) escalates to anyone;
        True when it has no escalation at all (nothing is promised)."""
        targets = [t for step in sev.escalation for t in step.notify]
        return not targets or any(self.reaches(t, private=True) for t in targets)

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
        unique("severities", [(s.id, s.match_keys()) for s in self.severities])
        unique("roles", [(r.id, r.match_keys()) for r in self.roles])
        commanding = [r.id for r in self.roles if r.commands]
        if len(commanding) > 1:
            raise ValueError(f"roles: only one role may have `commands: true` (found "
                             f"{', '.join(commanding)})")
        if not commanding and self.role("ic") is None:
            raise ValueError("roles: mark the role that commands the incident with "
                             "`commands: true` (no role has it, and no role has id `ic`)")
        unique("statuses", [(s.id, {normalize_key(s.id)}) for s in self.statuses])
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
        unique("checklists", [(c.id, {c.id}) for c in self.checklists])
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
        check_types(self.types, roles=self.roles, checklists=self.checklists,
                    statuses=statuses, severities=severities)
        general = {r.id for r in self.roles}
        for i, level in enumerate(self.severities):
            for j, step in enumerate(level.escalation):
                for k, target in enumerate(step.notify):
                    if target.startswith("role:") and target[5:] not in general:
                        raise ValueError(f"severities[{i}].escalation[{j}].notify[{k}]: "
                                         f"{target[5:]!r} is not one of the playbook's roles")
        for i, t in enumerate(self.types):
            sev_id = t.default_severity or self.default_severity.id
            if t.private and not self.reaches_privately(self.severity_for(sev_id, t.id)):
                raise ValueError(
                    f"types[{i}] ({t.id}) is private, and at its severity {sev_id} its "
                    "escalation reaches nobody: a channel outside a private incident never "
                    "hears of it. Escalate to people (U…), a user group (S…), role:<id> or a "
                    "pager, or list the channel in private_channels")
        check_routes(self.alert_routes, severities=severities, types={t.id for t in self.types})
        for i, cl in enumerate(self.checklists):
            for k, item in enumerate(cl.items):
                if item.command is not None:
                    raise ValueError(f"checklists[{i}].items[{k}].command: only a type's "
                                     "checklists can show its commands")
        known = {r.id for r in self.all_roles} | {"declarer", "anyone"}
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
        return next((r for r in self.all_roles if key in r.match_keys()), None)

    def links_for(self, severity: str, type_id: str | None = None) -> list[Link]:
        t = self.incident_type(type_id)
        return [k for k in (*self.links, *(t.links if t else ()))
                if not k.severities or severity in k.severities]

    def checklist(self, checklist_id: str) -> Checklist | None:
        return next((c for c in self.all_checklists if c.id == checklist_id), None)

    def checklists_for(self, when: str, severity: str, type_id: str | None = None
                       ) -> list[Checklist]:
        t = self.incident_type(type_id)
        return [c for c in (*self.checklists, *(t.checklists if t else ()))
                if c.when == when and (not c.severities or severity in c.severities)]

    def role(self, role_id: str) -> Role | None:
        return next((r for r in self.all_roles if r.id == role_id), None)

    # ----- types ---------------------------------------------------------------------------
    @property
    def all_roles(self) -> tuple[Role, ...]:
        """The general roles, then every type's own."""
        return (*self.roles, *(r for t in self.types for r in t.roles))

    @property
    def all_checklists(self) -> tuple[Checklist, ...]:
        return (*self.checklists, *(c for t in self.types for c in t.checklists))

    def roles_for(self, type_id: str | None) -> tuple[Role, ...]:
        """The roles an incident of this type has: the general ones and the type's."""
        t = self.incident_type(type_id)
        return (*self.roles, *(t.roles if t else ()))

    @property
    def default_type(self) -> IncidentType | None:
        return next((t for t in self.types if t.default), None)

    def incident_type(self, type_id: str | None) -> IncidentType | None:
        return next((t for t in self.types if t.id == type_id), None) if type_id else None

    def find_type(self, text: str) -> IncidentType | None:
        key = normalize_key(text)
        return next((t for t in self.types if key in t.match_keys()), None)

    def type_name(self, type_id: str | None) -> str:
        t = self.incident_type(type_id)
        return t.name if t else (type_id or "")

    def suggest_type(self, title: str) -> IncidentType | None:
        return suggest(self.types, title)

    def severity_for(self, sev_id: str, type_id: str | None) -> Severity:
        """The severity as an incident of this type has it: the type's notices added, its
        escalation added (in order of `after`) or put in place of the severity's."""
        sev = self.severity(sev_id)
        t = self.incident_type(type_id)
        if t is None or not (t.notify or t.escalation):
            return sev
        steps = t.escalation if t.replace_escalation else tuple(
            sorted((*sev.escalation, *t.escalation), key=lambda s: s.after))
        notify = tuple(dict.fromkeys((*sev.notify, *t.notify)))
        return sev.model_copy(update={"escalation": steps, "notify": notify})

    def find_status(self, text: str) -> Status | None:
        key = normalize_key(text)
        return next(
            (s for s in self.statuses if key in {normalize_key(s.id), normalize_key(s.name)}),
            None,
        )

    def status(self, status_id: str) -> Status:
        found = next((s for s in self.statuses if s.id == status_id), None)
        return found or Status(id=status_id, name=status_id.title())
