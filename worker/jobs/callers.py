"""Who asked for a job and how urgent it is: the task's `tenant` and `priority`, checked.

A fresh job names its tenant (default `"default"`) and priority (default `"normal"`); a
follow-up inherits both from its parent unless it names them, and may not name another tenant
than its parent's (a pipeline runs for one caller). A tenant's `max_priority` caps what its
jobs may ask for: a job asking above it runs at it, so no tenant defeats the fair share by
sending everything `high`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from config.settings import Settings
from config.tenants import (
    DEFAULT_PRIORITY,
    DEFAULT_TENANT,
    PRIORITIES,
    TENANT_PATTERN,
    Priority,
    capped,
)
from worker.ttapi import errors


@dataclass(frozen=True)
class Caller:
    """A job's tenant and the priority it runs at (after its tenant's `max_priority`)."""

    tenant: str = DEFAULT_TENANT
    priority: Priority = DEFAULT_PRIORITY


def caller_of(
    settings: Settings,
    tenant: Any = None,
    priority: Any = None,
    parent: Mapping[str, Any] | None = None,
) -> Caller:
    """The job's `Caller` from the task's arguments (None: inherit or default) and its parent's
    (a follow-up's); InvalidRequest naming the field when either is not allowed."""
    inherited = str((parent or {}).get("tenant") or "") or None
    if tenant is None:
        tenant = inherited or DEFAULT_TENANT
    elif not isinstance(tenant, str) or not TENANT_PATTERN.match(tenant):
        raise errors.InvalidRequest(
            f"tenant: {tenant!r} is not a tenant name (1-64 of A-Z a-z 0-9 _ . -)"
        )
    elif inherited is not None and tenant != inherited:
        raise errors.InvalidRequest(
            f"tenant: a follow-up runs for its parent's tenant {inherited!r}, not {tenant!r}"
        )
    if settings.mj_tenants_strict and tenant not in settings.mj_tenants:
        raise errors.InvalidRequest(
            f"tenant: {tenant!r} is not in MJ_TENANTS, and MJ_TENANTS_STRICT=1 refuses it"
        )
    if priority is None:
        from_parent = (parent or {}).get("priority")
        priority = from_parent if from_parent in PRIORITIES else DEFAULT_PRIORITY
    elif priority not in PRIORITIES:
        raise errors.InvalidRequest(
            f"priority: must be one of {', '.join(PRIORITIES)} (got {priority!r})"
        )
    return Caller(tenant, capped(priority, settings.tenant(tenant).max_priority))


__all__ = ["Caller", "caller_of"]
