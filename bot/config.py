"""Settings from the environment, validated once at start-up.

A bad or missing variable becomes a `ConfigError` whose message is one line that names the
variable and says what is expected; `python -m bot` prints it and exits without a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SLACK_API_URL_DEFAULT = "https://slack.com/api/"
SHIPPED_PLAYBOOKS = Path(__file__).parent / "defaults"


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Settings whose values are credentials: never echoed, redacted from every log line.
SECRET_SETTINGS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN",
                   "SLACK_CLIENT_SECRET", "ALERTS_TOKEN", "ALERTS_SIGNING_SECRET",
                   "PAGERDUTY_KEYS", "OPSGENIE_KEYS")


class ConfigError(Exception):
    """A configuration problem, phrased for the operator (one line)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=True, extra="ignore")

    SLACK_BOT_TOKEN: str | None = Field(
        default=None, description="the bot token (xoxb-...) from the app's OAuth & Permissions page"
    )
    SLACK_SIGNING_SECRET: str | None = Field(
        default=None, description="the signing secret from the app's Basic Information page"
    )
    SLACK_APP_TOKEN: str | None = Field(
        default=None, description="an app-level token (xapp-...) with connections:write"
    )
    SLACK_API_URL: str = Field(
        default=SLACK_API_URL_DEFAULT, description="an http(s) URL such as https://slack.com/api/"
    )
    DATABASE_URL: str = Field(
        default="sqlite+aiosqlite:///foghorn.db",
        description="sqlite+aiosqlite:///path.db or postgresql+asyncpg://... (or postgres://)",
    )
    PORT: int = Field(default=3000, ge=1, le=65535, description="a TCP port number (1-65535)")
    PLAYBOOKS_DIR: Path = Field(default=Path("playbooks"), description="a folder of playbook YAML")
    INCIDENTS_CHANNEL: str = Field(
        default="incidents", description="a channel name or ID, e.g. incidents or C0123ABCD"
    )
    TIMEZONE: str = Field(default="UTC", description="an IANA time zone such as Europe/London")
    SLACK_CLIENT_ID: str | None = Field(
        default=None, description="the app's Client ID (Basic Information), for OAuth installs"
    )
    SLACK_CLIENT_SECRET: str | None = Field(
        default=None, description="the app's Client Secret (Basic Information), for OAuth installs"
    )
    LOG_FORMAT: str = Field(default="text", description="text or json")
    LOG_LEVEL: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")
    ALERTS_TOKEN: str | None = Field(
        default=None, description="a bearer token of 16+ characters that Alertmanager sends "
                                  "(http_config.authorization.credentials)")
    ALERTS_SIGNING_SECRET: str | None = Field(
        default=None, description="an HMAC-SHA256 secret of 16+ characters for signed alert "
                                  "sources")
    GRAFANA_SIGNATURE_HEADER: str = Field(
        default="X-Grafana-Alerting-Signature",
        description="the header Grafana puts its HMAC signature in")
    GRAFANA_TIMESTAMP_HEADER: str | None = Field(
        default=None, description="the header Grafana puts the signed timestamp in, if set "
                                  "there (then signatures older than 5 minutes are refused)")
    PAGERDUTY_KEYS: str | None = Field(
        default=None, description="service=routing-key pairs, comma-separated, e.g. "
                                  "payments=R0UT1NGKEY…,platform=…")
    PAGERDUTY_URL: str = Field(default="https://events.pagerduty.com/",
                               description="the Events API v2 base URL")
    OPSGENIE_KEYS: str | None = Field(
        default=None, description="team=GenieKey pairs, comma-separated, e.g. sre=…")
    OPSGENIE_URL: str = Field(default="https://api.opsgenie.com/",
                              description="the Alert API base URL (api.eu.opsgenie.com in "
                                          "the EU)")
    DATABASE_TIMEOUT: float = Field(
        default=10.0, gt=0, le=300,
        description="seconds any database call may take (connect, statement, pool wait)")

    @field_validator("SLACK_BOT_TOKEN")
    @classmethod
    def _bot_token(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return v or None

    @field_validator("SLACK_APP_TOKEN")
    @classmethod
    def _app_token(cls, v: str | None) -> str | None:
        if v and not v.startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return v or None

    @field_validator("SLACK_API_URL")
    @classmethod
    def _api_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return v if v.endswith("/") else v + "/"

    @field_validator("DATABASE_URL")
    @classmethod
    def _db_url(cls, v: str) -> str:
        # Platforms hand out plain URLs (Heroku: postgres://...): use the async drivers.
        for plain, driver in (("postgres://", "postgresql+asyncpg://"),
                              ("postgresql://", "postgresql+asyncpg://"),
                              ("sqlite://", "sqlite+aiosqlite://")):
            if v.startswith(plain):
                v = driver + v.removeprefix(plain)
        if not v.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        try:
            port = urlsplit(v).port
        except ValueError:
            port = -1
        if port is not None and not 0 < port < 65536:
            raise ValueError("has a port that is not a number from 1 to 65535")
        if v.startswith("postgresql+asyncpg://"):
            from bot.store.pg_url import BadDatabaseURL, translate

            try:
                translate(v)
            except BadDatabaseURL as exc:
                raise ValueError(str(exc)) from None
        return v

    @field_validator("INCIDENTS_CHANNEL")
    @classmethod
    def _incidents_channel(cls, v: str) -> str:
        v = v.strip().lstrip("#")
        if not v:
            raise ValueError("must not be empty")
        return v

    @field_validator("TIMEZONE")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @field_validator("ALERTS_TOKEN", "ALERTS_SIGNING_SECRET")
    @classmethod
    def _alert_secret(cls, v: str | None) -> str | None:
        v = (v or "").strip() or None
        if v is not None and len(v) < 16:
            raise ValueError("is too short: use 16 characters or more")
        return v

    @field_validator("PAGERDUTY_KEYS", "OPSGENIE_KEYS")
    @classmethod
    def _pager_keys(cls, v: str | None) -> str | None:
        v = (v or "").strip() or None
        if v is not None:
            for i, pair in enumerate(v.split(","), 1):
                name, eq, key = pair.strip().partition("=")
                if not eq or not re.fullmatch(r"[A-Za-z0-9_.-]{1,60}", name.strip()) or \
                        len(key.strip()) < 8:
                    raise ValueError(f"pair {i} is not name=key (a name of letters, digits, "
                                     "_ . -; a key of 8 characters or more)")
        return v

    @field_validator("PAGERDUTY_URL", "OPSGENIE_URL")
    @classmethod
    def _pager_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return v if v.endswith("/") else v + "/"

    def pager_keys(self, pager: str) -> dict[str, str]:
        """`pagerduty` or `opsgenie`: {service or team: key}."""
        raw = self.PAGERDUTY_KEYS if pager == "pagerduty" else self.OPSGENIE_KEYS
        pairs = (p.strip().partition("=") for p in (raw or "").split(",") if p.strip())
        return {name.strip(): key.strip() for name, _, key in pairs}

    @property
    def alerts_on(self) -> bool:
        return bool(self.ALERTS_TOKEN or self.ALERTS_SIGNING_SECRET)

    @field_validator("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")
    @classmethod
    def _blank_is_unset(cls, v: str | None) -> str | None:
        return (v or "").strip() or None

    @field_validator("SLACK_SIGNING_SECRET", "SLACK_CLIENT_SECRET")
    @classmethod
    def _secret_length(cls, v: str | None) -> str | None:
        """A secret shorter than 8 characters is a mistake (Slack's are 32), and one the
        logs could not redact without garbling every line: refused, never echoed."""
        if v and len(v.strip()) < 8:
            raise ValueError("is too short to be Slack's secret (Slack's have 32 "
                             "characters): copy it again from the app's Basic Information")
        return v

    @field_validator("LOG_FORMAT")
    @classmethod
    def _log_format(cls, v: str) -> str:
        v = v.strip().lower()
        if v not in ("text", "json"):
            raise ValueError("must be text or json")
        return v

    @field_validator("LOG_LEVEL")
    @classmethod
    def _log_level(cls, v: str) -> str:
        v = v.strip().upper()
        if v not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return v

    @property
    def multi_workspace(self) -> bool:
        """OAuth installs into any number of workspaces, instead of one bot token."""
        return self.SLACK_CLIENT_ID is not None

    @property
    def socket_mode(self) -> bool:
        return self.SLACK_APP_TOKEN is not None

    @property
    def playbooks_dir(self) -> Path:
        """PLAYBOOKS_DIR when set; else ./playbooks when it exists; else the default playbook
        shipped in the package (so an installed wheel runs from any folder)."""
        if "PLAYBOOKS_DIR" in self.model_fields_set or self.PLAYBOOKS_DIR.is_dir():
            return self.PLAYBOOKS_DIR
        return SHIPPED_PLAYBOOKS

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.TIMEZONE)

    def require_slack(self) -> None:
        """Check what `foghorn run` needs on top of the defaults."""
        if bool(self.SLACK_CLIENT_ID) != bool(self.SLACK_CLIENT_SECRET):
            missing = "SLACK_CLIENT_SECRET" if self.SLACK_CLIENT_ID else "SLACK_CLIENT_ID"
            raise ConfigError(_missing(missing) + " (OAuth installs need both the client ID "
                              "and the client secret)")
        if self.multi_workspace:
            if not self.SLACK_SIGNING_SECRET:
                raise ConfigError(_missing("SLACK_SIGNING_SECRET") + " (OAuth installs)")
            if self.socket_mode:
                raise ConfigError("SLACK_APP_TOKEN is set together with SLACK_CLIENT_ID: "
                                  "OAuth installs need HTTP mode (unset SLACK_APP_TOKEN)")
            return
        if not self.SLACK_BOT_TOKEN:
            raise ConfigError(_missing("SLACK_BOT_TOKEN"))
        if not self.socket_mode and not self.SLACK_SIGNING_SECRET:
            raise ConfigError(
                _missing("SLACK_SIGNING_SECRET")
                + " (HTTP mode; set SLACK_APP_TOKEN instead for Socket Mode)"
            )


def _missing(name: str) -> str:
    desc = Settings.model_fields[name].description
    return f"{name} is not set: expected {desc}"


def secrets_in_environment(env: Mapping[str, str]) -> list[str]:
    """The raw secret values in the environment, valid or not, so they can be redacted
    before anything has been checked."""
    found = [env.get(name, "") for name in SECRET_SETTINGS]
    try:
        password = urlsplit(env.get("DATABASE_URL", "")).password
    except ValueError:
        password = None
    return [s for s in [*found, password or ""] if s]


def load_settings(**overrides: object) -> Settings:
    """Read the environment (plus explicit overrides), turning errors into one-line ConfigErrors.
    A secret's value is never part of the message."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]  # strings, as from the environment: pydantic converts them
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else "configuration"
        field = Settings.model_fields.get(name)
        expected = field.description if field is not None else ""
        msg = err["msg"].removeprefix("Value error, ")
        detail = f"{name} is invalid ({msg}{_shown(name, err.get('input'))})"
        if expected and expected not in msg:
            detail += f": expected {expected}"
        raise ConfigError(detail) from None


def _shown(name: str, value: object) -> str:
    """What of a bad value may be printed: all of it, unless it is (or holds) a secret."""
    if name in SECRET_SETTINGS:
        prefix = re.match(r"[a-z]{3,5}-", str(value))
        return f"; got a value starting with {prefix.group(0)!r}" if prefix else ""
    if name == "DATABASE_URL":
        scheme = str(value).partition("://")[0]
        return f"; got the scheme {scheme!r}" if "://" in str(value) else ""
    return f"; got {value!r}"
