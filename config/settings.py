"""Settings for every process of mj-worker (worker, beat, webhook, CLI), read from env vars.

Variable names are public (the README's configuration table): others set them, so they are only
ever added, never renamed. Keys are `SecretStr` and leave this
module only inside `Account` objects whose repr hides them. Build `Settings` once at the edge
(Celery app, CLI, WSGI factory) and pass it down.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import SettingsConfigDict, SettingsError

from config.accounts import Account as Account  # the names importers know, kept here
from config.accounts import account_label as account_label
from config.accounts import parse_accounts
from config.problems import problems
from config.redis_url import RedisTarget
from config.settings_parts import CallerSettings, RedisSettings, StorageSettings


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message names the variable."""


class Settings(RedisSettings, CallerSettings, StorageSettings):
    """Every setting of the worker; field names are the environment variable names, lower-cased."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    ttapi_api_key: SecretStr | None = Field(None, description="one account's key")
    ttapi_api_keys: SecretStr | None = Field(None, description="several keys, comma-separated")
    ttapi_base_url: str = Field("https://api.ttapi.io", description="TTAPI or the simulator")
    ttapi_max_in_progress: int = Field(10, ge=1, le=1000, description="per-account cap")
    mj_hook_base_url: str | None = Field(None, description="public base URL of the receiver")
    mj_video_cap: int | None = Field(
        None,
        ge=1,
        le=1000,
        description="empty: video jobs share the account's cap; a number: their own cap",
    )
    port: int = Field(8000, ge=1, le=65535, description="webhook receiver port")
    mj_poll_min_s: float = Field(1.0, gt=0, le=600, description="shortest gap between fetches")
    mj_poll_max_s: float = Field(15.0, gt=0, le=3000, description="longest gap between fetches")
    # Not in the contract's table, added for operations and scaled simulations.
    mj_time_scale: float = Field(
        1.0, gt=0, le=10, description="TTAPI's durations × this (below 1 only for the simulator)"
    )
    mj_pump_interval_s: float = Field(5.0, gt=0, le=600, description="maintenance pump period")
    mj_hook_safety_poll_s: float = Field(
        60.0, gt=0, le=3600, description="with webhooks: gap of the safety-net polling"
    )
    mj_reconcile_grace_s: float = Field(
        30.0, gt=0, le=3600, description="how long an ambiguous submit is looked for"
    )
    mj_http_connect_timeout_s: float = Field(5.0, gt=0, le=120)
    mj_http_read_timeout_s: float = Field(30.0, gt=0, le=600)
    mj_visibility_timeout_s: int = Field(3600, ge=60, le=7 * 86400)
    mj_result_expires_s: int = Field(2 * 86400, ge=86400, le=365 * 86400)
    mj_record_ttl_s: int = Field(7 * 86400, ge=86400, le=365 * 86400)
    mj_schedule_file: str | None = Field(None, description="user beat schedules (TOML or JSON)")
    mj_download_dir: str | None = Field(
        None, description="mj.download writes only under this directory"
    )
    mj_key_prefix: str = Field(
        "mj", pattern=r"^[A-Za-z0-9_.-]{1,32}$", description="namespace of mj-worker's Redis keys"
    )
    mj_control_queue: str = Field(
        "mj.control", min_length=1, description="queue of polls, wake-ups, fills and the pump"
    )
    mj_download_max_bytes: int = Field(
        50 * 1024 * 1024, ge=1, description="mj.download refuses a bigger image (one file)"
    )
    mj_log_format: Literal["text", "json"] = Field(
        "text", description="json: one JSON object per log line"
    )
    mj_health_timeout_s: float = Field(
        2.0, gt=0, le=30, description="/healthz gives up on a Redis PING after this"
    )
    mj_inline_image_max_bytes: int = Field(
        5 * 1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="largest image a task may carry inline (a data URI), decoded, per image",
    )
    mj_download_allow_private: bool = Field(
        False,
        description="mj.download may reach loopback, private and link-local addresses "
        "(the demo and tests against a local simulator; off in production)",
    )
    mj_engine_threads: int = Field(
        32, ge=1, le=512, description="TTAPI calls one node's engine makes side by side"
    )
    mj_engine_lease_s: float = Field(
        10.0, ge=1, le=300, description="how long an engine holds an account without renewing"
    )
    # The private side of `web` (operator page, /api/, /metrics, detailed /healthz).
    mj_admin_bind: str = Field(
        "127.0.0.1:8001", description="host:port of the private side of web (never public)"
    )
    mj_admin_auth: SecretStr | None = Field(
        None, description="user:password: basic auth on the private side"
    )
    # The HTTP API (worker.api): callbacks to callers, and who may pin an account.
    mj_callback_allow_private: bool = Field(
        False,
        description="callbacks may go to loopback, private and link-local addresses "
        "(tests and the demo; off in production)",
    )
    mj_api_account_tenants: str = Field(
        "",
        description="tenants whose API tokens may pin `account` (comma-separated; default none)",
    )

    @field_validator("ttapi_base_url", "mj_hook_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None if value == "" else value
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("mj_video_cap", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("mj_admin_bind")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("must be host:port, e.g. 127.0.0.1:8001")
        return f"{host}:{int(port)}"

    @field_validator("mj_admin_auth")
    @classmethod
    def _user_password(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        user, sep, password = value.get_secret_value().partition(":")
        if not sep or not user or not password:
            raise ValueError("must be user:password (both non-empty)")
        return value

    def admin_address(self) -> tuple[str, int]:
        """`MJ_ADMIN_BIND` as (host, port); a bracketed IPv6 host loses its brackets."""
        host, _, port = self.mj_admin_bind.rpartition(":")
        return host.strip("[]"), int(port)

    @field_validator("mj_log_format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _poll_bounds(self) -> Settings:
        if self.mj_poll_max_s < self.mj_poll_min_s:
            raise ValueError("MJ_POLL_MAX_S must be at least MJ_POLL_MIN_S")
        self.accounts()  # one key per label
        return self

    def accounts(self) -> list[Account]:
        """Every configured account, `TTAPI_API_KEY` first, duplicates dropped, order kept
        (ValueError, naming no key, when two keys claim one label: `config.accounts`)."""
        raw: list[str] = []
        if self.ttapi_api_key is not None:
            raw.append(self.ttapi_api_key.get_secret_value())
        if self.ttapi_api_keys is not None:
            raw.extend(self.ttapi_api_keys.get_secret_value().split(","))
        return parse_accounts(raw)

    def require_accounts(self) -> list[Account]:
        """The accounts, or a ConfigError naming both variables when none is configured."""
        accounts = self.accounts()
        if not accounts:
            raise ConfigError("TTAPI_API_KEY or TTAPI_API_KEYS: set at least one TTAPI key")
        return accounts


def load_settings(**overrides: Any) -> Settings:
    """Read the environment into `Settings`, turning pydantic errors into one clear ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    except SettingsError as exc:  # a JSON variable (MJ_TENANTS) that does not parse
        field_name = str(exc).partition('field "')[2].partition('"')[0] or "configuration"
        cause = f": {exc.__cause__}" if exc.__cause__ else ""
        raise ConfigError(
            f"invalid configuration: {field_name.upper()}: must be JSON{cause}"
        ) from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for problem in problems(exc):
        name = problem.where.upper() or "configuration"
        value = problem.value
        if name.endswith("_URL") and isinstance(value, str):
            value = _without_password(value)
        secret = name.endswith(("KEY", "AUTH", "PASSWORD")) or "KEYS" in name
        shown = "" if isinstance(value, dict) or secret else (f" (got {value!r})")
        parts.append(f"{name}: {problem.message}{shown}")
    return "invalid configuration: " + "; ".join(parts)


def _without_password(url: str) -> str:
    """`url` with the password of its user part (if any, in every `;` part) replaced by `***`."""
    return RedisTarget(url).masked


def default(name: str) -> Any:
    """The default of setting `name`: for constructors whose callers may leave it out, so the
    number is spelled once, here."""
    return Settings.model_fields[name].default
