"""What a token's tenant changes about a job: the one place the HTTP API's tenant plumbing lives.

- `task_options`: the tenant and priority every job task takes as keyword arguments (the
  callers' work). Passed only to tasks that take them, so this API runs against workers of
  either version.
- `check`: whether the tenant may pin `account` (`MJ_API_ACCOUNT_TENANTS`, default none).
- `effective_priority`: the priority asked for, capped by the tenant's `max_priority` as the
  task caps it (a job asking above it runs at it: no 422).
- `quota_retry_after`: seconds until the tenant may make jobs again when its daily quota is
  already spent at POST time (a 429), read from the workers' count (`worker.jobs.quota`); a
  quota spent between the POST and the job's entry still ends the job FAILURE, as over Celery.
"""

from __future__ import annotations

import math
from typing import Any

from config.settings import Settings
from config.tenants import DEFAULT_PRIORITY, PRIORITIES, capped
from worker.api.problems import ApiProblem, invalid
from worker.jobs import quota
from worker.jobs.runtime import Runtime

DAY_S = 86_400


def task_options(tenant: str, priority: str, accepts: set[str]) -> dict[str, Any]:
    """`tenant` and `priority` for a task that takes them (every job task, with the callers'
    work on the workers); nothing for one that does not."""
    options: dict[str, Any] = {}
    if "tenant" in accepts:
        options["tenant"] = tenant
    if "priority" in accepts:
        options["priority"] = priority
    return options


def may_pin_account(settings: Settings, tenant: str) -> bool:
    """Whether the tenant's tokens may name `account`."""
    allowed = {t.strip() for t in settings.mj_api_account_tenants.split(",") if t.strip()}
    return tenant in allowed


def effective_priority(settings: Settings, tenant: str, priority: str) -> str:
    """The priority the job runs at: the one asked for, capped by the tenant's `max_priority`
    (`MJ_TENANTS`), as the task caps it (`worker.jobs.callers`). The API sends it capped, so
    its messages' broker priority and the job's view say what really happens."""
    asked = priority if priority in PRIORITIES else DEFAULT_PRIORITY
    return capped(asked, settings.tenant(tenant).max_priority)


def check(settings: Settings, tenant: str, fields: dict[str, Any]) -> None:
    """Refuse what the tenant may not ask for, naming the field (422)."""
    if fields.get("account") and not may_pin_account(settings, tenant):
        raise invalid(
            "account",
            f"tenant {tenant!r} may not pin an account (MJ_API_ACCOUNT_TENANTS); "
            "leave it out: the least-loaded account is chosen",
        )


def quota_retry_after(rt: Runtime, tenant: str) -> int | None:
    """Seconds until the tenant may make jobs again when its daily quota is already spent at
    POST time (`POST /v1/jobs` answers 429 with Retry-After, the midjourney-proxy routes code
    23); None when it may make one. A repeat of a keyed POST is answered, never counted here.

    The callers' `daily_jobs` (issue 25) is counted by the workers when a job's record is first
    written, per tenant bucket and UTC day, beside the guard; this only reads that count
    (`worker.jobs.quota.spent`): `until_utc_midnight(rt.clock())` when it has reached the
    tenant's `daily_jobs`, else None. It must not count: the job is counted by its entry, so a
    refused POST, or a job that never starts, costs the tenant nothing. A quota spent between
    the POST and the entry ends the job FAILURE, as over Celery.
    """
    return until_utc_midnight(rt.clock()) if quota.spent(rt, tenant) else None


def until_utc_midnight(now: float) -> int:
    """Whole seconds from `now` (Unix time) to the next 00:00 UTC, when daily quotas reset."""
    return max(1, math.ceil(DAY_S - now % DAY_S))


def too_many(retry_after: int, tenant: str) -> ApiProblem:
    """The 429 for a spent daily quota."""
    return ApiProblem(
        429,
        "Too Many Requests",
        f"tenant {tenant!r} has used its daily jobs (daily_jobs); it frees up at 00:00 UTC",
        kind="quota",
        headers={"Retry-After": str(max(1, retry_after))},
    )


__all__ = [
    "check",
    "effective_priority",
    "may_pin_account",
    "quota_retry_after",
    "task_options",
    "too_many",
    "until_utc_midnight",
]
