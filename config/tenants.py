"""Callers: tenants and their settings (`MJ_TENANTS`), and the three priority classes.

A tenant is whoever asked for a job (a web app, a nightly batch, a team): its weight in the
fair share of freed places, its caps and quotas, and the highest priority it may ask for.
Tenants not named in `MJ_TENANTS` share the settings of `"default"` (or, with
`MJ_TENANTS_STRICT=1`, are refused). Over Celery any caller may name any tenant: the broker is
a trusted network. The HTTP API authenticates tenants by token.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Priority = Literal["high", "normal", "low"]
#: The priority classes, most urgent first; a class's index is its rank.
PRIORITIES: tuple[Priority, ...] = ("high", "normal", "low")
DEFAULT_TENANT = "default"
DEFAULT_PRIORITY: Priority = "normal"
TENANT_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class TenantSettings(BaseModel):
    """One tenant's entry in `MJ_TENANTS`; every field may be left out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weight: float = Field(1.0, gt=0, le=1000, description="share of freed places, relative")
    max_in_progress: int | None = Field(
        None, ge=1, description="jobs at TTAPI at once, across all accounts and nodes"
    )
    daily_jobs: int | None = Field(None, ge=1, description="jobs per UTC day, counted once each")
    max_priority: Priority = Field("high", description="a job asking above this runs at it")


def check_tenant_name(name: str) -> str:
    """`name` if it is a valid tenant name, else ValueError saying the rule."""
    if not isinstance(name, str) or not TENANT_PATTERN.match(name):
        raise ValueError(f"{name!r} is not a tenant name (1-64 of A-Z a-z 0-9 _ . -)")
    return name


def capped(priority: Priority, ceiling: Priority) -> Priority:
    """`priority`, or `ceiling` when it asks for more than the tenant may."""
    return max(priority, ceiling, key=PRIORITIES.index)


__all__ = [
    "DEFAULT_PRIORITY",
    "DEFAULT_TENANT",
    "PRIORITIES",
    "Priority",
    "TenantSettings",
    "capped",
    "check_tenant_name",
]
