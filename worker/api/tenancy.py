"""What a token's tenant changes about a job: the one place the HTTP API's tenant plumbing lives.

- `task_options`: the tenant and priority every job task takes as keyword arguments (the
  callers' work). Passed only to tasks that take them, so this API runs against workers of
  either version.
- `check`: whether the tenant may pin `account` (`MJ_API_ACCOUNT_TENANTS`, default none) and
  ask for this priority (`max_priority`, once the callers' tenant settings exist).
- `quota_retry_after`: seconds until the tenant may make jobs again when its daily quota is
  already spent at POST time (a 429); a quota spent between the POST and the job's entry
  still ends the job FAILURE, as over Celery.
"""

from __future__ import annotations

from typing import Any

from config.settings import Settings
from worker.api.problems import ApiProblem, invalid

PRIORITIES = ("low", "normal", "high")


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


def max_priority(settings: Settings, tenant: str) -> str:
    """The highest priority the tenant may ask for (`MJ_TENANTS`' `max_priority`, when the
    callers' settings are there; else any)."""
    rules = getattr(settings, "tenant_rules", None)
    if callable(rules):
        found = getattr(rules(tenant), "max_priority", None)
        if isinstance(found, str) and found in PRIORITIES:
            return found
    return "high"


def check(settings: Settings, tenant: str, fields: dict[str, Any]) -> None:
    """Refuse what the tenant may not ask for, naming the field (422)."""
    if fields.get("account") and not may_pin_account(settings, tenant):
        raise invalid(
            "account",
            f"tenant {tenant!r} may not pin an account (MJ_API_ACCOUNT_TENANTS); "
            "leave it out: the least-loaded account is chosen",
        )
    highest = max_priority(settings, tenant)
    priority = str(fields.get("priority") or "normal")
    if PRIORITIES.index(priority) > PRIORITIES.index(highest):
        raise invalid("priority", f"tenant {tenant!r} may ask for at most {highest!r}")


def quota_retry_after(rt: Any, tenant: str) -> int | None:
    """Seconds until the tenant's daily quota frees up, when it is already spent; else None.

    The seam for the callers' quotas (`daily_jobs` per UTC day): when the workers count them
    (`rt.quotas`), a spent quota is refused here with 429 before anything is made.
    """
    quotas = getattr(rt, "quotas", None)
    spent = getattr(quotas, "retry_after", None)
    if callable(spent):
        found = spent(tenant)
        return int(found) if found else None
    return None


def too_many(retry_after: int, tenant: str) -> ApiProblem:
    """The 429 for a spent daily quota."""
    return ApiProblem(
        429,
        "Too Many Requests",
        f"tenant {tenant!r} has used its daily jobs (daily_jobs); it frees up at 00:00 UTC",
        kind="quota",
        headers={"Retry-After": str(max(1, retry_after))},
    )


__all__ = ["check", "may_pin_account", "quota_retry_after", "task_options", "too_many"]
