"""Playbooks: what a team customises (severities, roles, statuses, templates, checklists,
links), validated with precise error messages.

A playbook is a YAML file. `load_playbooks(dir)` validates every `*.yml`/`*.yaml` in the
folder and returns the active one (`default.yml`, or the only file). Any problem raises
`PlaybookError` whose message names the file, the path inside it (e.g.
`severities[2].update_every`) and the problem. The parts are in `parts`, the whole and its
cross-checks in `schema`, reading files in `loading`.
"""

from bot.playbooks.alert_routes import AlertRoute, route_for
from bot.playbooks.loading import (
    active_file,
    escalation_targets,
    load_playbooks,
    parse_playbook,
    playbook_files,
    playbook_warnings,
)
from bot.playbooks.parts import (
    TEMPLATE_FIELDS,
    Checklist,
    ChecklistItem,
    EscalationStep,
    Link,
    PlaybookError,
    Role,
    Severity,
    Status,
    Templates,
    is_pager,
    normalize_key,
    target_kind,
)
from bot.playbooks.schema import PERMISSION_ACTIONS, Playbook
from bot.playbooks.types import IncidentType, RunbookCommand

__all__ = [
    "PERMISSION_ACTIONS",
    "TEMPLATE_FIELDS",
    "AlertRoute",
    "Checklist",
    "ChecklistItem",
    "EscalationStep",
    "IncidentType",
    "Link",
    "Playbook",
    "PlaybookError",
    "Role",
    "RunbookCommand",
    "Severity",
    "Status",
    "Templates",
    "active_file",
    "escalation_targets",
    "is_pager",
    "load_playbooks",
    "normalize_key",
    "parse_playbook",
    "playbook_files",
    "playbook_warnings",
    "route_for",
    "target_kind",
]
