"""`GET /v1/jobs`: the caller's jobs, newest first, optionally of one status, a page at a time.

The tenant's index is a sorted set scored by creation time (ms). A cursor is the score and id
of the last job a page showed; the next page starts below it. A status filter reads jobs in
batches until the page is full, reading at most `SCAN_LIMIT` jobs per request (a page may then
be short, with a cursor to go on).
"""

from __future__ import annotations

import re

from worker.api.core import Api
from worker.api.entries import text
from worker.api.problems import invalid
from worker.api.reads import build_views
from worker.api.tokens import Token
from worker.api.views import Job, JobList

SCAN_LIMIT = 500
CURSOR = re.compile(r"^(\d{1,16}):([A-Za-z0-9-]{1,64})$")


def list_jobs(
    api: Api, token: Token, *, status: str | None, limit: int, cursor: str | None
) -> JobList:
    """A page of the tenant's jobs (with `next_cursor` when more may follow)."""
    rt = api.rt
    index = rt.keys.api_jobs(token.tenant)
    top: str = "+inf"
    after_id: str | None = None
    if cursor:
        match = CURSOR.fullmatch(cursor)
        if match is None:
            raise invalid("cursor", "not a cursor this API gave")
        top, after_id = match.group(1), match.group(2)
    items: list[Job] = []
    scanned, last, more = 0, None, True
    while more and len(items) < limit and scanned < SCAN_LIMIT:
        batch = min(max(limit, 20), SCAN_LIMIT - scanned)
        found = rt.redis.zrevrangebyscore(
            index, top, "-inf", start=0, num=batch + 1, withscores=True
        )
        rows = [(text(m), str(int(s))) for m, s in found]  # type: ignore[str-unpack]
        more = len(rows) > batch
        if after_id is not None:  # equal scores come in descending id order
            rows = [(m, s) for m, s in rows if not (s == top and m >= after_id)]
        rows = rows[:batch]
        if not rows:
            break
        pipe = rt.redis.pipeline(transaction=False)
        for job_id, _ in rows:
            pipe.hgetall(rt.keys.api_job(job_id))
        docs = [
            (job_id, {text(k): text(v) for k, v in raw.items()})
            for (job_id, _), raw in zip(rows, pipe.execute(), strict=True)
        ]
        scores = dict(rows)
        mine = [(j, d) for j, d in docs if d.get("tenant") == token.tenant]
        for job in build_views(api, mine):
            scanned += 1
            last = (scores[job.id], job.id)
            if status is None or job.status == status:
                items.append(job)
            if len(items) >= limit:
                break
        top, after_id = rows[-1][1], rows[-1][0]
        if last is None or len(items) < limit:
            last = (top, after_id)
        more = more or len(rows) == batch
    cursor_out = f"{last[0]}:{last[1]}" if last and (more or len(items) >= limit) else None
    return JobList(items=items, next_cursor=cursor_out)


__all__ = ["list_jobs"]
