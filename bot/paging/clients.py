"""The two paging APIs, as their documentation describes them.

PagerDuty Events API v2: `POST {PAGERDUTY_URL}v2/enqueue` with the service's routing key,
`event_action` trigger or resolve, a `dedup_key`, and for a trigger `payload.summary`
(up to 1,024 characters), `source` and `severity` (critical, error, warning or info), plus
`links`. 202 is success; 400 an invalid event (not retried); 429 and 5xx are retried.

Opsgenie Alert API: `POST {OPSGENIE_URL}v2/alerts` with `Authorization: GenieKey <key>`,
`message` (up to 130 characters) and `alias` (the dedup key); closing is
`POST v2/alerts/<alias>/close?identifierType=alias`. 202 is success; 401/403/422 are not
retried; 429 and 5xx are.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import aiohttp


class PageFailed(Exception):
    def __init__(self, status: int, message: str, *, retry: bool,
                 retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status}: {message}" if status else message)
        self.status, self.retry, self.retry_after = status, retry, retry_after


@dataclass(frozen=True)
class Page:
    """What to page about: the same for both services."""

    dedup_key: str
    summary: str
    severity: str  # critical, error, warning or info
    source: str
    links: tuple[tuple[str, str], ...] = ()  # (text, href)
    details: str = ""


class PagerClient:
    name = ""

    def __init__(self, base_url: str, keys: dict[str, str], session: aiohttp.ClientSession
                 ) -> None:
        self.base_url, self.keys, self.session = base_url, keys, session

    async def trigger(self, target: str, page: Page) -> None:
        raise NotImplementedError

    async def resolve(self, target: str, dedup_key: str) -> None:
        raise NotImplementedError

    def key(self, target: str) -> str:
        if target not in self.keys:
            raise PageFailed(0, f"no key for {self.name}:{target}", retry=False)
        return self.keys[target]

    async def _post(self, url: str, body: dict[str, object],
                    headers: dict[str, str] | None = None) -> None:
        try:
            async with self.session.post(url, json=body, headers=headers or {},
                                         timeout=aiohttp.ClientTimeout(total=10)) as r:
                if r.status in (200, 201, 202):
                    return
                text = (await r.text())[:300]
                after = r.headers.get("Retry-After")
                raise PageFailed(r.status, text or r.reason or "", retry=r.status == 429
                                 or r.status >= 500,
                                 retry_after=float(after) if after and after.isdigit()
                                 else None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PageFailed(0, f"{self.name} cannot be reached ({type(exc).__name__})",
                             retry=True) from None


class PagerDuty(PagerClient):
    name = "pagerduty"

    async def trigger(self, target: str, page: Page) -> None:
        await self._post(f"{self.base_url}v2/enqueue", {
            "routing_key": self.key(target), "event_action": "trigger",
            "dedup_key": page.dedup_key[:255],
            "payload": {"summary": page.summary[:1024], "source": page.source[:255],
                        "severity": page.severity,
                        "custom_details": {"details": page.details[:2000]}},
            "links": [{"href": href, "text": text} for text, href in page.links]})

    async def resolve(self, target: str, dedup_key: str) -> None:
        await self._post(f"{self.base_url}v2/enqueue", {
            "routing_key": self.key(target), "event_action": "resolve",
            "dedup_key": dedup_key[:255]})


_PRIORITY = {"critical": "P1", "error": "P2", "warning": "P3", "info": "P4"}


class Opsgenie(PagerClient):
    name = "opsgenie"

    async def trigger(self, target: str, page: Page) -> None:
        links = "\n".join(f"{text}: {href}" for text, href in page.links)
        await self._post(f"{self.base_url}v2/alerts", {
            "message": page.summary[:130], "alias": page.dedup_key[:512],
            "description": f"{page.details}\n{links}".strip()[:15000],
            "priority": _PRIORITY.get(page.severity, "P3"), "source": page.source[:100],
            "tags": ["foghorn"]}, {"Authorization": f"GenieKey {self.key(target)}"})

    async def resolve(self, target: str, dedup_key: str) -> None:
        await self._post(f"{self.base_url}v2/alerts/{quote(dedup_key[:512], safe='')}/close"
                         "?identifierType=alias", {"source": "Foghorn",
                                                   "note": "The incident was resolved."},
                         {"Authorization": f"GenieKey {self.key(target)}"})
