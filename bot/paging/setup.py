"""Paging set up from the settings: the playbook's pager targets checked against the keys,
and the pager built with a client per service."""

from __future__ import annotations

from typing import Any

import aiohttp

from bot.config import ConfigError, Settings
from bot.incidents.events import EventLog
from bot.incidents.model import Clock
from bot.logs import install_redaction
from bot.paging.clients import Opsgenie, PagerClient, PagerDuty
from bot.paging.pager import Pager
from bot.playbooks import Playbook, escalation_targets, is_pager
from bot.store.db import Database


def pager_problems(settings: Settings, playbook: Playbook) -> list[str]:
    """Each pager target the playbook names without its key in the settings, as one line
    (`foghorn check` lists them all; `foghorn run` refuses to start on the first). The keys
    are redacted from every log line."""
    keys = {name: settings.pager_keys(name) for name in ("pagerduty", "opsgenie")}
    install_redaction([k for found in keys.values() for k in found.values()])
    found: list[str] = []
    for path, target in escalation_targets(playbook):
        service, _, who = target.partition(":")
        if is_pager(target) and who not in keys[service]:
            var = "PAGERDUTY_KEYS" if service == "pagerduty" else "OPSGENIE_KEYS"
            found.append(f"{var} has no key for {who!r}, which the playbook pages at "
                         f"{path} ({target})")
    return found


def check_pagers(settings: Settings, playbook: Playbook) -> None:
    """Every pager target the playbook names has its key in the settings (else ConfigError
    naming the first that does not)."""
    problems = pager_problems(settings, playbook)
    if problems:
        more = f" (and {len(problems) - 1} more; `foghorn check` lists them)" if len(
            problems) > 1 else ""
        raise ConfigError(problems[0] + more)


def build_pager(settings: Settings, playbook: Playbook, db: Database, chat: Any,
                events: EventLog, clock: Clock) -> Pager | None:
    """The pager for the keys in the settings (None without any)."""
    keys = {name: settings.pager_keys(name) for name in ("pagerduty", "opsgenie")}
    if not any(keys.values()):
        return None
    session = aiohttp.ClientSession()
    clients: dict[str, PagerClient] = {
        "pagerduty": PagerDuty(settings.PAGERDUTY_URL, keys["pagerduty"], session),
        "opsgenie": Opsgenie(settings.OPSGENIE_URL, keys["opsgenie"], session)}
    return Pager(db, playbook, clients, chat.pager_said, events, clock=clock)
