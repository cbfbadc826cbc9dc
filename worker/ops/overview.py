"""Everything the operator page shows, as one JSON-ready dict (`/api/overview`).

Accounts, tenants, liveness (queues, workers, the pump, ok/degraded and why), and four bounded job
listings: in flight, waiting, recent results, recent failures. All read from Redis through
the view's fail-fast client; nothing is cached in the web process.
"""

from __future__ import annotations

from typing import Any

from worker.ops import jobs, liveness
from worker.ops.accounts import account_rows
from worker.ops.tenants import tenant_rows
from worker.ops.view import OpsView


def overview(view: OpsView, *, limit: int = 20) -> dict[str, Any]:
    """One snapshot for the page: at most `limit` rows per listing (per account for waiting)."""
    live = liveness.read(view)
    now = live.now
    accounts = account_rows(view)
    labels = [a["account"] for a in accounts]
    return {
        "now": now,
        **live.as_dict(),
        "accounts": accounts,
        "tenants": tenant_rows(view),
        "totals": {
            "in_use": sum(a["in_use"] for a in accounts),
            "cap": sum(a["cap"] for a in accounts),
            "waiting": sum(a["waiting"] for a in accounts),
            "queued": sum(live.queues.values()),
            "workers_online": sum(1 for w in live.workers if w.online),
        },
        "jobs": {
            "active": jobs.in_flight(view, labels, now, limit),
            "waiting": jobs.waiting(view, labels, now, limit),
            "recent": jobs.ended(view, now, limit=limit),
            "failed": jobs.ended(view, now, failed=True, limit=limit),
        },
    }


__all__ = ["overview"]
