"""Logging that never writes a secret, one line per record, as text or JSON (`LOG_FORMAT`).

Slack tokens and the signing and client secrets are redacted from every log record, whichever
library logs it (slack_sdk's DEBUG request dumps include the Authorization header, for one).
Ids bound with `bind` (team, channel, user, incident) are added to every line."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO

TOKEN = re.compile(r"\bx(?:ox[abposer]|app)-[A-Za-z0-9-]+")
# Values that act as credentials though they are not tokens: a response_url lets anyone post
# as the app into that conversation for 30 minutes; an OAuth code buys a token. Redacted as
# URLs (also URL-encoded), as JSON fields and as form or query fields.
HOOK_URL = re.compile(r"https?(?::|%3A)(?://|%2F%2F)(?:hooks\.slack\.com[^\s\"'&,]*|"
                      r"[^\s\"'&,]*?(?:/|%2F)(?:commands|actions)(?:/|%2F)[TE][A-Z0-9]+"
                      r"(?:/|%2F)\d+(?:/|%2F)[A-Za-z0-9]+)", re.I)
CREDENTIAL_FIELD = re.compile(
    r"""((?:"|')?\b(?:response_url|code)(?:"|')?\s*(?::|=)\s*(?:"|')?)"""
    r"""(?!\[redacted\])[^\s"'&,}]+""")
# The password in a URL (a DATABASE_URL in a driver's message, say).
URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)(?!\*\*\*@)[^\s@/]+@", re.I)
REDACTED = "[redacted]"
_secrets: set[str] = set()
_installed = False


def redact(text: str) -> str:
    text = TOKEN.sub(REDACTED, text)
    text = HOOK_URL.sub(REDACTED, text)
    text = CREDENTIAL_FIELD.sub(lambda m: m.group(1) + REDACTED, text)
    text = URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED + "@", text)
    for secret in _secrets:
        text = text.replace(secret, REDACTED)
    return text


def install_redaction(secrets: Iterable[str | None] = ()) -> None:
    """Redact Slack tokens, and these secrets, in every log record from now on."""
    global _installed
    _secrets.update(s for s in secrets if s and len(s) >= 8)
    if _installed:
        return
    _installed = True
    make_record = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call: leave it to logging to report
            return record
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return record

    logging.setLogRecordFactory(factory)


# ----- context and format -------------------------------------------------------------------
# Ids that say what a log line is about (team, channel, user, incident...), set where a request
# or a reminder starts and inherited by the tasks it spawns.
# Each binding makes a new dict, so a task's bindings never leak into its parent's.
_context: ContextVar[dict[str, str] | None] = ContextVar("foghorn_log_context", default=None)
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def bind(**ids: object) -> None:
    """Add ids to every log line from here on in this task (and tasks it starts)."""
    fresh = {k: str(v) for k, v in ids.items() if v not in (None, "")}
    if fresh:
        _context.set({**(_context.get() or {}), **fresh})


def unbind_all() -> None:
    """Start a fresh set of ids (a new request)."""
    _context.set(None)


def context() -> dict[str, str]:
    return dict(_context.get() or {})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the bound ids and any
    `extra` fields. Already redacted (the record factory runs first)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update(getattr(record, "ctx", None) or {})
        line.update({k: v for k, v in vars(record).items()
                     if k not in _STANDARD and k != "ctx"})
        if record.exc_info:
            line["error"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            line["error"] = record.exc_text
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The plain format, with the bound ids appended: `... [team=T1 channel=C2]`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ctx = getattr(record, "ctx", None)
        if ctx:
            text += " [" + " ".join(f"{k}={v}" for k, v in ctx.items()) + "]"
        return text


def _attach_context(record: logging.LogRecord) -> bool:
    """The bound ids, except where the record names its own (`extra={"channel": ...}`): a
    line about another channel than the request's says which."""
    ctx = _context.get() or {}
    own = {k: str(getattr(record, k)) for k in ctx if k not in _STANDARD and hasattr(record, k)}
    record.ctx = {**ctx, **own} if own else ctx
    return True


def handler(fmt: str = "text", stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing one line per record, as `text` or `json`, to `stream` (stderr)."""
    out = logging.StreamHandler(stream)
    out.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    out.addFilter(_attach_context)
    return out


def configure(fmt: str = "text", level: int = logging.INFO) -> None:
    """Send logs to stderr, one line per record, as `text` or `json`."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler(fmt))
    root.setLevel(level)
