"""Reading playbooks from a folder, with precise error messages, and what is worth a
warning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.durations import format_duration
from bot.playbooks.parts import PlaybookError
from bot.playbooks.schema import Playbook


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
    for i, t in enumerate(pb.types):
        if not t.private:
            continue
        for sev in pb.severities:
            if not pb.reaches_privately(pb.severity_for(sev.id, t.id)):
                warnings.append(
                    f"types[{i}] ({t.id}) is private, and at {sev.id} its escalation reaches "
                    "nobody (channels outside a private incident never hear of it): escalate "
                    "to people, a user group, role:<id> or a pager, or list the channel in "
                    "private_channels")
    return warnings


def escalation_targets(pb: Playbook) -> list[tuple[str, str]]:
    """(path inside the playbook, target) for every escalation target."""
    return [(f"severities[{i}].escalation[{j}].notify[{k}]", target)
            for i, sev in enumerate(pb.severities)
            for j, step in enumerate(sev.escalation)
            for k, target in enumerate(step.notify)] + [
        (f"severities[{i}].notify[{k}]", target)
        for i, sev in enumerate(pb.severities) for k, target in enumerate(sev.notify)] + [
        (f"private_channels[{k}]", target) for k, target in enumerate(pb.private_channels)] + [
        (f"types[{i}].notify[{k}]", target)
        for i, t in enumerate(pb.types) for k, target in enumerate(t.notify)] + [
        (f"types[{i}].escalation[{j}].notify[{k}]", target)
        for i, t in enumerate(pb.types) for j, step in enumerate(t.escalation)
        for k, target in enumerate(step.notify)]
