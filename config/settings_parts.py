"""Groups of settings that `config.settings.Settings` is made of: Redis (and its failover),
callers (tenants), result storage. Each group's fields, validators and helpers live together;
`Settings` inherits them all, so every name stays an environment variable of one object."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings

from config.redis_url import DEFAULT_MASTER, RedisTarget, parse_redis_url
from config.tenants import DEFAULT_TENANT, TenantSettings, check_tenant_name

SSL_CERT_REQS = ("required", "optional", "none")
# MJ_STORAGE_URL schemes: S3 and S3-compatible stores, GCS, Azure, a local folder.
STORAGE_SCHEMES = ("s3", "gs", "az", "file")


class RedisSettings(BaseSettings):
    """`REDIS_URL` (redis://, rediss://, unix:// or sentinel://) and what a failover needs."""

    redis_url: str = Field("redis://localhost:6379/0", description="broker, backend, guard state")
    mj_redis_sentinel_master: str = Field(DEFAULT_MASTER, description="sentinel://: its master")
    mj_redis_sentinel_password: SecretStr | None = Field(None, description="the sentinels' own")
    mj_redis_min_replicas: int | None = Field(None, ge=0, le=16, description="replicas to WAIT")
    mj_redis_wait_ms: int | None = Field(None, ge=1, le=60000, description="a submit's WAIT")

    @field_validator("mj_redis_min_replicas", "mj_redis_wait_ms", mode="before")
    @classmethod
    def _redis_empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        parse_redis_url(value)  # a ValueError names what is wrong (the master name: below)
        if value.startswith("rediss://"):
            # Celery's result backend refuses a rediss:// URL without it, and redis-py reads
            # only these three spellings: say so at start-up, not at the first task.
            reqs = parse_qs(urlsplit(value).query).get("ssl_cert_reqs", [""])[-1]
            if reqs not in SSL_CERT_REQS:
                raise ValueError(
                    "a rediss:// URL needs ssl_cert_reqs in its query: add "
                    "?ssl_cert_reqs=required (verify the server's certificate; or optional, "
                    "or none)"
                )
        return value

    @model_validator(mode="after")
    def _sentinel_master(self) -> RedisSettings:
        if self.redis_target().is_sentinel and not self.mj_redis_sentinel_master.strip():
            raise ValueError("MJ_REDIS_SENTINEL_MASTER: a sentinel:// REDIS_URL needs the name")
        return self

    def redis_target(self) -> RedisTarget:
        """`REDIS_URL` parsed, with the sentinel settings: each consumer takes its form."""
        password = self.mj_redis_sentinel_password
        return parse_redis_url(
            self.redis_url,
            master=self.mj_redis_sentinel_master.strip(),
            sentinel_password=password.get_secret_value() if password else None,
        )

    def redis_min_replicas(self) -> int:
        """Replicas that must acknowledge a submit's intent: the setting, else 1 under
        sentinel:// (a failover must not forget it) and 0 on a single Redis."""
        if self.mj_redis_min_replicas is not None:
            return self.mj_redis_min_replicas
        return 1 if self.redis_target().is_sentinel else 0


class CallerSettings(BaseSettings):
    """Who may ask, and on what terms (`config.tenants`)."""

    # Callers (config/tenants.py): JSON, per tenant.
    mj_tenants: dict[str, TenantSettings] = Field(
        default_factory=dict, description="per tenant: weight, caps, quota, max_priority"
    )
    mj_tenants_strict: bool = Field(False, description="refuse tenants not in MJ_TENANTS")

    @field_validator("mj_tenants", mode="before")
    @classmethod
    def _tenants(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return {}
        if isinstance(value, dict):
            for name in value:
                check_tenant_name(name)
        return value

    def tenant(self, name: str) -> TenantSettings:
        """The settings of tenant `name`: its own entry, else `"default"`'s, else defaults."""
        found = self.mj_tenants.get(name) or self.mj_tenants.get(DEFAULT_TENANT)
        return found if found is not None else TenantSettings()


class StorageSettings(BaseSettings):
    """Where a finished job's files are copied before delivery (`worker.storage`)."""

    mj_storage_url: str | None = Field(
        None, description="s3://bucket/prefix, gs://…, az://… or file:///path; empty: none"
    )
    mj_storage_public_url: str | None = Field(
        None, description="public base URL of the store's root; empty: presigned links"
    )
    mj_storage_link_ttl_s: int = Field(
        604800, ge=1, le=604800, description="lifetime of a presigned link (SigV4: 7 days)"
    )
    mj_storage_retry_s: float = Field(
        600.0, gt=0, le=7 * 86400, description="how long a result waits for the store"
    )
    mj_storage_steps: Literal["final", "all"] = Field(
        "final", description="final: the last step stored before delivery; all: every step"
    )

    @field_validator("mj_storage_url")
    @classmethod
    def _storage_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        scheme, sep, rest = value.strip().partition("://")
        if not sep or scheme.lower() not in STORAGE_SCHEMES:
            raise ValueError(
                "must be s3://bucket/prefix, gs://bucket/prefix, az://… or file:///path"
            )
        if scheme.lower() == "file" and not rest.startswith("/"):
            raise ValueError("a file:// store needs an absolute path: file:///path")
        if scheme.lower() != "file" and not rest.strip("/"):
            raise ValueError("names no bucket")
        return value.strip().rstrip("/")

    @field_validator("mj_storage_public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.strip().rstrip("/")


__all__ = ["CallerSettings", "RedisSettings", "StorageSettings"]
