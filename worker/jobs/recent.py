"""The small capped index of recent job endings: what `mjw jobs --recent/--failed` and the
operator page's recent results and failures read.

An ended record leaves the `active` index, so without this nobody could list what just ended
without scanning every record. The engine calls `note_ended` once per ending (a redelivered
ending only moves the same member's score); the index keeps the `RECENT_CAP` newest endings,
and `recent_failed` the `RECENT_FAILED_CAP` newest failures and revokes. Members are job ids
(the record is `keys.job(id)`), scores the ending's epoch seconds.
"""

from __future__ import annotations

from typing import Any

from worker.jobs.record import TERMINAL, RecordState
from worker.keys import Keys
from worker.policy import RECENT_CAP, RECENT_FAILED_CAP
from worker.text import text

FAILURES = (RecordState.FAILED, RecordState.REVOKED)


def note_ended(client: Any, keys: Keys, job_id: str, state: str, at: float) -> None:
    """Index one ending (2 commands, 4 for a failure); `client` may be a pipeline."""
    if state not in TERMINAL:
        raise ValueError(f"state must be one of {', '.join(TERMINAL)}, got {state!r}")
    client.zadd(keys.recent, {job_id: at})
    client.zremrangebyrank(keys.recent, 0, -RECENT_CAP - 1)
    if state in FAILURES:
        client.zadd(keys.recent_failed, {job_id: at})
        client.zremrangebyrank(keys.recent_failed, 0, -RECENT_FAILED_CAP - 1)


def recent(client: Any, keys: Keys, limit: int = 50) -> list[tuple[str, float]]:
    """The newest endings first: `(job_id, ended_at)`, at most `limit`."""
    return _newest(client, keys.recent, limit)


def recent_failed(client: Any, keys: Keys, limit: int = 50) -> list[tuple[str, float]]:
    """The newest failures and revokes first: `(job_id, ended_at)`, at most `limit`."""
    return _newest(client, keys.recent_failed, limit)


def _newest(client: Any, key: str, limit: int) -> list[tuple[str, float]]:
    if limit <= 0:
        return []
    rows = client.zrevrange(key, 0, limit - 1, withscores=True)
    return [(text(member), float(score)) for member, score in rows]


__all__ = ["FAILURES", "note_ended", "recent", "recent_failed"]
