"""The webhook bodies Foghorn accepts, validated into one `Notification` shape.

Alertmanager's webhook (payload `version: "4"`): a group of alerts sharing `groupKey`, with
the group's `status` (`firing` while any alert fires), its labels and annotations, and each
alert's own. Unknown fields are allowed (Alertmanager adds some over versions); missing or
mistyped documented ones are refused with the first problem's path.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)  # Alertmanager's "not ended" endsAt
T = TypeVar("T", bound=BaseModel)


class PayloadError(ValueError):
    """A body that is not the documented shape; the message names the first problem."""


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class Alert(_Open):
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime = Field(alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL", max_length=2000)
    fingerprint: str = Field(default="", max_length=64)

    def key(self) -> str:
        """The alert's identity within its group (Alertmanager's fingerprint)."""
        return self.fingerprint or "|".join(f"{k}={v}" for k, v in sorted(self.labels.items()))


def first_words(*candidates: str | None) -> str:
    """The first candidate with any words in it, its white space folded."""
    return next((" ".join(c.split()) for c in candidates if c and c.strip()), "")


class Notification(_Open):
    version: Literal["4"]
    group_key: str = Field(alias="groupKey", min_length=1, max_length=1000)
    status: Literal["firing", "resolved"]
    receiver: str = ""
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL", max_length=2000)
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts", ge=0)
    alerts: tuple[Alert, ...] = Field(min_length=1, max_length=1000)

    @property
    def labels(self) -> dict[str, str]:
        """What routes match on: the first firing (else first) alert's labels, with the
        group's common ones over them."""
        first = next((a for a in self.alerts if a.status == "firing"), self.alerts[0])
        return {**first.labels, **self.common_labels}

    def annotation(self, name: str) -> str:
        """The group's annotation, else the first alert's; blank ones count as absent."""
        if self.common_annotations.get(name, "").strip():
            return self.common_annotations[name]
        return next((a.annotations[name] for a in self.alerts
                     if a.annotations.get(name, "").strip()), "")

    @property
    def title(self) -> str:
        """The `summary` annotation, else the `alertname` label (blank ones skipped)."""
        return first_words(self.annotation("summary"), self.labels.get("alertname"), "Alert")

    @property
    def started_at(self) -> datetime:
        """When the earliest alert began: the incident's detection time."""
        return min(a.starts_at for a in self.alerts).astimezone(UTC)

    @property
    def firing(self) -> list[Alert]:
        return [a for a in self.alerts if a.status == "firing"]

    @property
    def links(self) -> list[tuple[str, str]]:
        found = [(a.labels.get("alertname", "alert"), a.generator_url)
                 for a in self.alerts if a.generator_url.startswith(("http://", "https://"))]
        return list(dict.fromkeys(found))[:5]


def parse_alertmanager(body: Any) -> Notification:
    if not isinstance(body, dict):
        raise PayloadError("the body must be a JSON object")
    return _validated(Notification, body)


def parse_grafana(body: Any) -> Notification:
    """Grafana's webhook contact point: Alertmanager's shape (its `version` is "1"), plus
    `title`, `state`, `message`, `orgId` and per-alert `silenceURL`, `dashboardURL`,
    `panelURL`, `values`, `valueString`, kept as they come."""
    if not isinstance(body, dict):
        raise PayloadError("the body must be a JSON object")
    if not isinstance(body.get("version"), str):
        raise PayloadError("version: Field required")
    return _validated(Notification, {**body, "version": "4"})


class GenericLink(_Open):
    text: str = Field(default="link", max_length=100)
    url: str = Field(pattern=r"^https?://\S+$", max_length=2000)


class GenericAlert(_Open):
    """The generic source's documented schema (README, "Alerts")."""

    title: str = Field(min_length=1, max_length=200)
    dedup_key: str = Field(min_length=1, max_length=255)
    status: Literal["firing", "resolved"] = "firing"
    severity: str = Field(default="", max_length=40)
    description: str = Field(default="", max_length=2500)
    labels: dict[str, str] = Field(default_factory=dict)
    links: tuple[GenericLink, ...] = Field(default=(), max_length=10)
    started_at: datetime | None = None


def parse_generic(body: Any, now: datetime) -> Notification:
    if not isinstance(body, dict):
        raise PayloadError("the body must be a JSON object")
    alert = _validated(GenericAlert, body)
    labels = {**alert.labels, **({"severity": alert.severity} if alert.severity else {})}
    labels.setdefault("alertname", alert.title)
    started = (alert.started_at or now).isoformat()
    first = alert.links[0].url if alert.links else ""
    return _validated(Notification, {
        "version": "4", "groupKey": alert.dedup_key, "status": alert.status,
        "commonLabels": labels,
        "commonAnnotations": {"summary": alert.title, "description": alert.description},
        "alerts": [{"status": alert.status, "labels": labels,
                    "annotations": {"summary": alert.title,
                                    "description": alert.description},
                    "startsAt": started, "generatorURL": first,
                    "fingerprint": hashlib.sha256(alert.dedup_key.encode()).hexdigest()[:16]}]})


def _validated(model: type[T], body: dict[str, Any]) -> T:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "body"
        raise PayloadError(f"{where}: {err['msg']}") from None
