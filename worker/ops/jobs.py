"""Job listings for `mjw jobs`, `mjw show` and the operator page, read from Redis only.

- in flight: the guard's holders of each account (a job holds its slot from just before the
  submit to its end), with TTAPI progress;
- waiting: the guard's waiters of each account, in order (position 1 is next), with their age;
- recent / failed: the capped index of endings (`worker.jobs.recent`).

Each listing reads a few fields of each record in one pipelined round trip, and is bounded
(`limit` per listing, per account for the guard's lists).
"""

from __future__ import annotations

from typing import Any

from worker.jobs import recent as recent_index
from worker.jobs.record import STORED_AS, JobRecord
from worker.ops.tenants import tenant_book
from worker.ops.view import OpsView
from worker.storage.links import fresh
from worker.text import text

#: The record fields a listing row shows (`JobRecord`'s names; read under their stored names).
FIELDS = (
    "state",
    "kind",
    "account",
    "params",
    "ttapi_job_id",
    "error",
    "result",
    "progress",
    "created_at",
    "submitted_at_ts",
    "finished_at_ts",
    "waiting_since",
    "tenant",
    "priority",
    "storing",
)
STORED = [STORED_AS.get(name, name) for name in FIELDS]
KINDS = ("waiting", "active", "recent", "failed")


def rows(view: OpsView, ids: list[str], now: float) -> list[dict[str, Any]]:
    """A listing row per job id whose record still exists, in the order given."""
    pipe = view.redis.pipeline(transaction=False)
    for job_id in ids:
        pipe.hmget(view.keys.job(job_id), STORED)
    found = []
    for job_id, values in zip(ids, pipe.execute() if ids else [], strict=True):
        raw = {f: text(v) for f, v in zip(STORED, values, strict=True) if v is not None}
        if "state" in raw:
            found.append(row_of(JobRecord.from_hash(job_id, raw), now))
    return found


def row_of(rec: JobRecord, now: float) -> dict[str, Any]:
    """One record as a JSON-ready row (prompt, times, images, the error), decoded by the same
    codec as every other reader (`JobRecord.from_hash`)."""
    params, result = rec.params, rec.result
    created, submitted = rec.created_at, rec.submitted_at_ts
    finished, waiting_since = rec.finished_at_ts, rec.waiting_since
    started = submitted or created
    return {
        "job_id": rec.job_id,
        "state": rec.state,
        "kind": rec.kind,
        "action": result.get("action") or params.get("action") or rec.kind,
        "account": rec.account,
        "prompt": str(params.get("prompt") or result.get("prompt") or ""),
        "ttapi_job_id": rec.ttapi_job_id,
        "progress": rec.progress,
        "created_at": created or None,
        "submitted_at": submitted or None,
        "finished_at": finished or None,
        "waiting_since": waiting_since or None,
        "age_s": round(now - (waiting_since or created), 1) if (waiting_since or created) else None,
        "duration_s": round(finished - started, 1) if finished and started else None,
        "image_url": result.get("image_url") or "",
        "images": [str(i) for i in _list(result.get("images"))],
        "videos": [str(v) for v in _list(result.get("videos"))],
        "error": rec.error,
        "tenant": rec.tenant,
        "priority": rec.priority,
        # Copies in the store (`stored` links as the job's end made them: see `with_links`).
        "stored": result.get("stored") if isinstance(result.get("stored"), dict) else None,
        "storage_error": str(result.get("storage_error") or ""),
        "storing": rec.storing,
    }


def in_flight(view: OpsView, labels: list[str], now: float, limit: int = 50) -> list[dict]:
    """Jobs holding a slot, longest-running first."""
    ids = [job_id for label in labels for job_id in view.guard.state(label).holders]
    found = rows(view, ids, now)
    found.sort(key=lambda r: r["submitted_at"] or r["created_at"] or now)
    return found[:limit]


def waiting(view: OpsView, labels: list[str], now: float, limit: int = 50) -> list[dict]:
    """Parked jobs, per account in the order it serves them, each with its `position` (the
    estimated place in that order, 1 = next)."""
    found: list[dict[str, Any]] = []
    book = tenant_book(view)
    for label in labels:
        queued = dict(view.guard.next_in_line(label, limit, book=book))
        for row in rows(view, list(queued), now):
            row["position"] = queued[row["job_id"]]
            row["account"] = row["account"] or label
            found.append(row)
    return found


def ended(view: OpsView, now: float, *, failed: bool = False, limit: int = 50) -> list[dict]:
    """The newest endings first (failures and revokes only with `failed`)."""
    read = recent_index.recent_failed if failed else recent_index.recent
    noted = read(view.redis, view.keys, limit)
    found = rows(view, [job_id for job_id, _ in noted], now)
    at = dict(noted)
    for row in found:
        row["finished_at"] = row["finished_at"] or at.get(row["job_id"])
        with_links(view, row, now)
    return found


def with_links(view: OpsView, row: dict[str, Any], now: float) -> None:
    """A row's `stored` links made anew (presigned ones re-signed), and its `thumbnail`: the
    stored one when a browser can fetch it (not a file:// store's path), else ""."""
    if row.get("stored"):
        row["stored"] = (fresh({"stored": row["stored"]}, view.settings, now) or {})["stored"]
    thumb = str((row.get("stored") or {}).get("thumbnail") or "")
    row["thumbnail"] = thumb if thumb.startswith(("http://", "https://")) else ""


def listing(
    view: OpsView, kind: str, now: float, *, account: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """One of KINDS, optionally for one account only."""
    labels = [account] if account else view.labels()
    if kind == "waiting":
        return waiting(view, labels, now, limit)
    if kind == "active":
        return in_flight(view, labels, now, limit)
    if kind not in ("recent", "failed"):
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    # The index holds every account's endings: read more when filtering, then cut.
    found = ended(view, now, failed=kind == "failed", limit=limit if not account else 1000)
    return [r for r in found if not account or r["account"] == account][:limit]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


__all__ = [
    "KINDS",
    "ended",
    "in_flight",
    "listing",
    "row_of",
    "rows",
    "waiting",
    "with_links",
]
