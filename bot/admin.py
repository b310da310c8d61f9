"""Operator commands that start nothing: `foghorn init`, `foghorn check`, `foghorn --version`."""

from __future__ import annotations

import shutil
import sys
from importlib import metadata
from pathlib import Path
from typing import TextIO

from bot.config import SHIPPED_PLAYBOOKS, ConfigError, Settings, load_settings
from bot.playbooks import PlaybookError, active_file, load_playbooks, playbook_warnings


def version() -> str:
    try:
        return metadata.version("foghorn")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def init(directory: Path, out: TextIO = sys.stdout) -> int:
    """Write the default playbook to `directory` to edit; never overwrite a file."""
    target = directory / "default.yml"
    if target.exists():
        print(f"foghorn: {target} already exists; nothing written", file=sys.stderr)
        return 1
    try:
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHIPPED_PLAYBOOKS / "default.yml", target)
    except OSError as exc:
        print(f"foghorn: cannot write {target}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    out.write(f"wrote {target}: edit it, check it with `foghorn check-playbooks {directory}`, "
              f"and point PLAYBOOKS_DIR at {directory} (or run Foghorn from its parent)\n")
    return 0


async def check(out: TextIO = sys.stdout) -> int:
    """Validate settings, playbook, database and Slack tokens without serving: one line per
    finding, exit 1 when anything would stop `foghorn run` or break it later."""
    from bot.paging.setup import pager_problems
    from bot.startup import StartupError, check_app_token, check_targets, check_token

    problems = 0

    def say(kind: str, text: str) -> None:
        nonlocal problems
        problems += kind == "problem"
        out.write(f"{kind}: {text}\n")

    try:
        settings = load_settings()
        settings.require_slack()
        say("ok", "settings")
    except ConfigError as exc:
        say("problem", str(exc))
        return 1
    playbook = None
    try:
        playbook = load_playbooks(settings.playbooks_dir)
        say("ok", f"playbook {active_file(settings.playbooks_dir)} ({playbook.name})")
        for warning in playbook_warnings(playbook):
            say("warning", f"playbook: {warning}")
        for problem in pager_problems(settings, playbook):
            say("problem", problem)
    except PlaybookError as exc:
        say("problem", str(exc))
    say(*await _database(settings))
    if settings.socket_mode:
        try:
            await check_app_token(settings)
            say("ok", "SLACK_APP_TOKEN accepted by Slack")
        except StartupError as exc:
            say("problem", str(exc))
    if settings.SLACK_BOT_TOKEN:
        from bot.slack.gateway import SlackGateway, make_client

        gateway = SlackGateway(make_client(settings.SLACK_BOT_TOKEN, settings.SLACK_API_URL))
        try:
            if not await check_token(gateway, starting=False):
                say("problem", "Slack did not answer auth.test (is SLACK_API_URL reachable "
                               "from here?); `foghorn run` would start and answer /healthz "
                               "503 until it does")
            else:
                who = await gateway.identity()
                say("ok", f"SLACK_BOT_TOKEN: bot @{who.get('user')} in {who.get('team')}")
                if playbook is not None:
                    await check_targets(gateway, playbook, active_file(settings.playbooks_dir),
                                        settings.INCIDENTS_CHANNEL)
                    say("ok", f"INCIDENTS_CHANNEL {settings.INCIDENTS_CHANNEL} and the "
                              "escalation targets exist")
        except (StartupError, ConfigError, PlaybookError) as exc:
            say("problem", str(exc))
        finally:
            await gateway.close()
    return 1 if problems else 0


async def _database(settings: Settings) -> tuple[str, str]:
    from bot.store.db import sqlite_path
    from bot.store.opening import (
        DatabaseProblem,
        SchemaBehind,
        head_revision,
        open_existing,
        where,
    )

    path = sqlite_path(settings.DATABASE_URL)
    if path is not None and not path.exists():
        return "ok", f"database {path} does not exist yet: `foghorn run` creates it"
    try:
        db = await open_existing(settings.DATABASE_URL, settings.DATABASE_TIMEOUT)
    except SchemaBehind as exc:  # `foghorn run` upgrades it: nothing to fix
        return "ok", str(exc)
    except DatabaseProblem as exc:
        return "problem", str(exc)
    await db.close()
    return "ok", f"database {where(settings.DATABASE_URL)} (schema {head_revision()})"
