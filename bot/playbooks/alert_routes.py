"""`alert_routes`: what an alert group becomes, matched in order on its labels.

A route matches when every `match` label equals its value and every `match_re` label matches
its regular expression in full; a route with neither matches everything. It says the action
(`declare` an incident at once, `triage`: post it for a person to decide, or `ignore`), the
incident type and the severity: fixed, or looked up from a label (`severity_from`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from pydantic import Field, field_validator

from bot.playbooks.parts import Strict


class SeverityFrom(Strict):
    label: str = Field(min_length=1, max_length=100)
    map: dict[str, str] = Field(min_length=1)  # label value (any case) → severity id


class AlertRoute(Strict):
    match: dict[str, str] = Field(default_factory=dict)
    match_re: dict[str, str] = Field(default_factory=dict)
    action: Literal["declare", "triage", "ignore"] = "declare"
    severity: str | None = None
    severity_from: SeverityFrom | None = None
    type: str | None = None
    channel: str | None = None  # triage posts go here instead of INCIDENTS_CHANNEL
    auto_resolve: bool = False  # resolve the incident when every alert of the group has

    @field_validator("match_re")
    @classmethod
    def _regexes(cls, v: dict[str, str]) -> dict[str, str]:
        for label, pattern in v.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{label}: {pattern!r} is not a regular expression "
                                 f"({exc})") from None
        return v

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match.items()) and all(
            re.fullmatch(p, labels.get(k, "")) for k, p in self.match_re.items())

    def severity_for(self, labels: Mapping[str, str]) -> str | None:
        if self.severity_from is not None:
            value = labels.get(self.severity_from.label, "").lower()
            mapped = {k.lower(): v for k, v in self.severity_from.map.items()}.get(value)
            if mapped is not None:
                return mapped
        return self.severity


def check_routes(routes: tuple[AlertRoute, ...], *, severities: set[str], types: set[str]
                 ) -> None:
    for i, r in enumerate(routes):
        for sev in [r.severity, *(r.severity_from.map.values() if r.severity_from else ())]:
            if sev is not None and sev not in severities:
                raise ValueError(f"alert_routes[{i}]: unknown severity {sev!r}")
        if r.type is not None and r.type not in types:
            raise ValueError(f"alert_routes[{i}].type: unknown type {r.type!r}")
        if r.channel is not None and r.action != "triage":
            raise ValueError(f"alert_routes[{i}].channel: only a `triage` route posts to a "
                             "channel")


def route_for(routes: tuple[AlertRoute, ...], labels: Mapping[str, str]) -> AlertRoute | None:
    return next((r for r in routes if r.matches(labels)), None)
