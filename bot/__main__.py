"""`python -m bot` / `foghorn`: run (the default), demo, check, init, check-playbooks, export,
stats, outbox."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from bot.config import LOG_LEVELS, ConfigError, load_settings, secrets_in_environment
from bot.logs import configure as configure_logging
from bot.logs import install_redaction, redact
from bot.playbooks import (
    TEMPLATE_FIELDS,
    PlaybookError,
    load_playbooks,
    parse_playbook,
    playbook_files,
    playbook_warnings,
)
from bot.startup import StartupError
from bot.store.opening import DatabaseProblem


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="foghorn", description="Foghorn: incident response in Slack")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot (default); settings come from the environment")
    demo = sub.add_parser("demo", help="play a scripted incident against a fake Slack, offline")
    demo.add_argument("--pace", type=float, default=0.4, help="seconds between steps")
    sub.add_parser("check", help="check settings, playbook, database and Slack tokens, "
                                 "without serving (exit 0 when all is well, else 1)")
    init = sub.add_parser("init", help="write the default playbook into DIR to edit")
    init.add_argument("dir", nargs="?", type=Path, default=Path("playbooks"),
                      help="folder (default: ./playbooks)")
    check = sub.add_parser("check-playbooks", help="validate playbooks without starting")
    check.add_argument("dir", nargs="?", type=Path, help="folder (default: PLAYBOOKS_DIR)")
    export = sub.add_parser("export", help="print an incident's postmortem draft or timeline")
    export.add_argument("incident", help="channel ID, channel name or INC-n")
    export.add_argument("--format", choices=("md", "json"), default="md")
    report = sub.add_parser("stats", help="incident metrics: MTTA, MTTR, cadence, postmortems")
    report.add_argument("period", nargs="?", default="30d", help="7d, 30d (default) or 90d")
    report.add_argument("--team", help="only this workspace's incidents (a team ID, T...)")
    box = sub.add_parser("outbox", help="reactions and alert notifications not done: list "
                                        "what was parked, retry it, or drop it")
    box.add_argument("action", nargs="?", choices=("list", "retry", "drop"), default="list")
    box.add_argument("ids", nargs="*", help="ids as `list` prints them (d12, a7)")
    box.add_argument("--all", action="store_true", dest="every",
                     help="list: also what is waiting; retry: everything parked")
    return p


def check_playbooks(directory: Path) -> int:
    try:
        files = playbook_files(directory)
        for f in files:
            pb = parse_playbook(f.read_text(encoding="utf-8"), str(f))
            print(f"ok: {f} ({pb.name}: {len(pb.severities)} severities, {len(pb.roles)} roles)")
        active = load_playbooks(directory)
    except PlaybookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"active playbook: {active.name}")
    for warning in playbook_warnings(active):
        print(f"warning: {warning}")
    for name, fields in TEMPLATE_FIELDS.items():
        print(f"  templates.{name} may use: {', '.join('{' + f + '}' for f in sorted(fields))}")
    return 0


def main(argv: list[str] | None = None) -> int:
    # Before anything is checked or logged: whatever the environment holds as a secret,
    # valid or not, never reaches the output.
    install_redaction(secrets_in_environment(os.environ))
    args = _parser().parse_args(argv)
    if args.version:
        from bot.admin import version

        print(f"foghorn {version()}")
        return 0
    fmt = os.environ.get("LOG_FORMAT", "text").strip().lower()
    level = os.environ.get("LOG_LEVEL", "INFO").strip().upper()  # checked with the settings
    configure_logging("json" if fmt == "json" else "text",
                      getattr(logging, level) if level in LOG_LEVELS else logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # APScheduler logs two INFO lines per job run: one pair per reminder look is noise.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # aiosqlite logs two DEBUG lines per database operation: thousands a minute, no news.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    try:
        status = _command(args)
        sys.stdout.flush()  # a closed pipe is found here, not at the interpreter's exit
        return status
    except (ConfigError, PlaybookError, StartupError, DatabaseProblem) as exc:
        print(f"foghorn: {redact(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`foghorn check-playbooks | head -2`): not an error to report.
        # Python would still flush stdout at exit and complain: point it at nothing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:  # a bug: its traceback goes through the redacting log
        logging.getLogger("bot").error("foghorn stopped: %s", exc, exc_info=exc)
        return 1


def _command(args: argparse.Namespace) -> int:
    command = args.command or "run"
    if command == "check-playbooks":
        return check_playbooks(args.dir or load_settings().playbooks_dir)
    if command == "init":
        from bot.admin import init

        return init(args.dir)
    if command == "check":
        from bot.admin import check

        return asyncio.run(check())
    if command == "export":
        from bot.export import export

        return asyncio.run(export(load_settings(), args.incident, args.format))
    if command == "stats":
        from bot.incidents.stats import PERIODS, parse_period
        from bot.report import print_stats

        period = parse_period(args.period)
        if period is None:
            print(f"foghorn: unknown period {args.period!r}: use one of "
                  f"{', '.join(PERIODS)}", file=sys.stderr)
            return 2
        return asyncio.run(print_stats(load_settings(), period, args.team))
    if command == "outbox":
        from bot.outbox.command import outbox

        return asyncio.run(outbox(load_settings(), args.action, args.ids, args.every))
    if command == "demo":
        from bot.demo import play

        logging.getLogger().setLevel(logging.WARNING)
        return asyncio.run(play(pace=args.pace))
    from bot.serve import run

    return asyncio.run(run(load_settings()))


if __name__ == "__main__":
    sys.exit(main())
