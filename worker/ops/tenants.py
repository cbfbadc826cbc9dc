"""Per tenant, what an operator asks: its settings, jobs in progress and waiting, its share of the
recent slot-time, today's jobs against `daily_jobs`, and jobs ended by outcome.

A row per *bucket*: every tenant named in `MJ_TENANTS`, and `default` for all the others
(`worker.capacity.tenants`), so the rows and the metric labels are bounded by the configuration
whatever names callers send. A name an older configuration had shows while anything of it is
left. Read from Redis only: the guard's counts (`tenants:busy`, each account's tally), the
decaying usage, the day's set of jobs, the outcome counters.
"""

from __future__ import annotations

import time
from typing import Any

from worker import policy
from worker.capacity import metrics, tenants
from worker.capacity.lanes import lanes
from worker.capacity.tenants import TenantBook
from worker.ops.view import OpsView
from worker.text import text


def tenant_book(view: OpsView) -> TenantBook:
    """The tenants as the workers number them (the registry) with this process's settings:
    what estimating a waiter's place needs."""
    numbers = {name: n for n, name in tenants.names_of(view.redis, view.keys).items()}
    return TenantBook(view.settings.mj_tenants, numbers)


def tenant_rows(view: OpsView) -> list[dict[str, Any]]:
    """One JSON-ready dict per tenant bucket: configured ones first, then `default`, then
    names of an older configuration that still have jobs."""
    book = TenantBook(view.settings.mj_tenants)
    names = tenants.names_of(view.redis, view.keys)
    busy = tenants.in_progress(view.redis, view.keys)
    labels = lanes(view.labels(), view.settings.mj_video_cap)
    waiting = tenants.waiting(view.redis, view.keys, labels)
    ended = metrics.tenant_outcomes(view.redis, keys=view.keys)
    used = _usage(view, names)
    total = sum(used.values())
    day = time.strftime("%Y%m%d", time.gmtime(view.now()))
    order = [*sorted(n for n in book.tenants if n != "default"), "default"]
    order += sorted(
        n for n in {*names.values(), *(b for b, _ in ended)} if n not in order and n != "~next"
    )
    number = {name: n for n, name in names.items()}
    rows = []
    for name in order:
        n = number.get(name)
        counts = {o: ended.get((name, o), 0) for o in metrics.OUTCOMES}
        row = {
            "tenant": name,
            "configured": name in book.tenants or name == "default",
            "weight": book.settings(name).weight,
            "max_in_progress": book.settings(name).max_in_progress,
            "daily_jobs": book.settings(name).daily_jobs,
            "max_priority": book.settings(name).max_priority,
            "in_progress": busy.get(n, 0) if n is not None else 0,
            "waiting": waiting.get(n, 0) if n is not None else 0,
            "share": round(used.get(name, 0.0) / total, 4) if total else None,
            "today": _today(view, name, day) if book.settings(name).daily_jobs else None,
            "ended": counts,
        }
        if row["configured"] or row["in_progress"] or row["waiting"] or any(counts.values()):
            rows.append(row)
    return rows


def _usage(view: OpsView, names: dict[int, str]) -> dict[str, float]:
    """Each bucket's slot-time, decayed to now (ms; what the shares compare)."""
    raw = {text(k): float(text(v)) for k, v in view.redis.hgetall(view.keys.pool[0]).items()}
    now = view.now() * 1000
    out = {}
    for n, name in names.items():
        if f"u{n}" in raw:
            age = max(0.0, now - raw.get(f"t{n}", now))
            out[name] = raw[f"u{n}"] * 2 ** (-age / (policy.SHARE_HALF_LIFE_S * 1000))
    return out


def _today(view: OpsView, bucket: str, day: str) -> int:
    """Jobs the bucket started this UTC day (what `daily_jobs` counts)."""
    return int(view.redis.scard(view.keys.tenant_day(bucket, day)))


__all__ = ["tenant_book", "tenant_rows"]
