"""PostgreSQL URLs as providers hand them out, made into what asyncpg takes.

Neon, Supabase, Render, DigitalOcean and Heroku give libpq URLs: `postgres://…?sslmode=require`,
sometimes with `sslrootcert`, `options=-c search_path=…` or `application_name`. SQLAlchemy
passes a URL's query to asyncpg as keyword arguments, which asyncpg does not take
("connect() got an unexpected keyword argument 'sslmode'"). Here the libpq parameters are
taken off the URL and translated: `sslmode` (with `sslrootcert`, `sslcert`, `sslkey`) into
asyncpg's `ssl`, `options` and `application_name` into `server_settings`,
`connect_timeout` into `timeout`. Anything else is refused with a clear message.
"""

from __future__ import annotations

import shlex
import ssl
from typing import Any

from sqlalchemy.engine import URL, make_url

SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_TAKEN = frozenset({"sslmode", "sslrootcert", "sslcert", "sslkey", "options",
                    "application_name", "connect_timeout", "target_session_attrs"})


class BadDatabaseURL(ValueError):
    """The URL cannot be used; the message says why, without the password."""


def translate(url: str) -> tuple[URL, dict[str, Any]]:
    """The URL without libpq's parameters, and asyncpg's connect arguments for them."""
    parsed = make_url(url)
    query = dict(parsed.query)
    unknown = sorted(set(query) - _TAKEN)
    if unknown:
        raise BadDatabaseURL(f"has parameters Foghorn cannot pass on: {', '.join(unknown)} "
                             f"(it understands {', '.join(sorted(_TAKEN))})")
    args: dict[str, Any] = {}
    settings: dict[str, str] = {}
    mode = _one(query, "sslmode")
    if mode is not None:
        if mode not in SSLMODES:
            raise BadDatabaseURL(f"has sslmode={mode}; use one of {', '.join(SSLMODES)}")
        args["ssl"] = _ssl(mode, _one(query, "sslrootcert"), _one(query, "sslcert"),
                           _one(query, "sslkey"))
    elif any(k in query for k in ("sslrootcert", "sslcert", "sslkey")):
        args["ssl"] = _ssl("verify-full", _one(query, "sslrootcert"), _one(query, "sslcert"),
                           _one(query, "sslkey"))
    options = _one(query, "options")
    if options:
        settings.update(_options(options))
    name = _one(query, "application_name")
    if name:
        settings["application_name"] = name
    if settings:
        args["server_settings"] = settings
    timeout = _one(query, "connect_timeout")
    if timeout:
        try:
            args["timeout"] = float(timeout)
        except ValueError:
            raise BadDatabaseURL(f"has connect_timeout={timeout}, not a number of seconds"
                                 ) from None
    attrs = _one(query, "target_session_attrs")
    if attrs:
        args["target_session_attrs"] = attrs
    return parsed.set(query={}), args


def _one(query: dict[str, Any], key: str) -> str | None:
    value = query.get(key)
    if isinstance(value, tuple):
        value = value[-1]
    return str(value) if value is not None else None


def _ssl(mode: str, rootcert: str | None, cert: str | None, key: str | None
         ) -> str | ssl.SSLContext:
    """asyncpg takes libpq's mode names itself; a context when certificates are named."""
    if mode in ("disable", "allow", "prefer") or not (rootcert or cert):
        return mode
    try:
        context = ssl.create_default_context(cafile=rootcert)
        if cert:
            context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise BadDatabaseURL(f"names certificates that cannot be read: {exc}") from None
    if mode == "require" and not rootcert:
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    elif mode in ("require", "verify-ca"):
        context.check_hostname = False  # the certificate is checked, not the host name
    return context


def _options(options: str) -> dict[str, str]:
    """libpq's `options` (`-c name=value`, `--name=value`) as server settings."""
    found: dict[str, str] = {}
    words = shlex.split(options)
    i = 0
    while i < len(words):
        word = words[i]
        if word == "-c" and i + 1 < len(words):
            word, i = words[i + 1], i + 1
        elif word.startswith("-c") or word.startswith("--"):
            word = word[2:]
        else:
            raise BadDatabaseURL(f"has options={options!r}; Foghorn understands "
                                 "`-c name=value` settings only")
        name, sep, value = word.partition("=")
        if not sep or not name:
            raise BadDatabaseURL(f"has options={options!r}; a setting lacks its value")
        found[name.replace("-", "_")] = value
        i += 1
    return found
