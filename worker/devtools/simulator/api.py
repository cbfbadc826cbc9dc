"""The TTAPI endpoints: auth, rate limit, random faults, validation, admission, then the work."""

from __future__ import annotations

import math

from worker.devtools.simulator import media, rules
from worker.devtools.simulator.accounts import Account
from worker.devtools.simulator.config import MEDIA_SUBMITS, SUBMIT_PATHS
from worker.devtools.simulator.engine import Engine
from worker.devtools.simulator.jobs import STATUSES
from worker.devtools.simulator.media_bodies import fetch_body
from worker.devtools.simulator.reply import Reply, envelope, html, json_reply, ok
from worker.devtools.simulator.routes import FETCH_FAMILIES, endpoint_of, submit_id_name
from worker.devtools.simulator.validation import BadRequest, parse_body, validate
from worker.devtools.simulator.validation_media import validate_media

__all__ = ["endpoint_of", "handle_api"]
WRONG_KEY = "Wrong TT-API-KEY or email is not activated."
TOO_FREQUENT = "Requests too frequent, please try again later."
TRUNCATED = b'{"status":"SUCCESS","message":"success","data":{"jo'


def handle_api(
    engine: Engine,
    endpoint: str,
    key: str | None,
    query: dict[str, str],
    raw: bytes,
    received: float | None = None,
) -> Reply:
    """Answer one TTAPI request, checks in TTAPI's order; the lock is held throughout."""
    with engine.lock:
        reply = _handle(engine, endpoint, key, query, raw, received)
        reply.delay += engine.faults.slow_s
    return reply


def _handle(
    engine: Engine,
    endpoint: str,
    key: str | None,
    query: dict[str, str],
    raw: bytes,
    received: float | None,
) -> Reply:
    now = engine.now()
    acct = engine.accounts.get(key) if key else None
    if acct is None:
        engine.count_401 += 1
        return envelope(401, WRONG_KEY)
    acct.count("requests")
    if endpoint in FETCH_FAMILIES:
        acct.count("fetches")
    wait = acct.bucket.take(now)
    if wait > 0:
        return _too_frequent(engine, acct, wait)
    if (fault := _random_fault(engine, acct, endpoint)) is not None:
        return fault
    try:
        if endpoint in SUBMIT_PATHS:
            return _submit(engine, acct, endpoint, raw, now, received)
        if endpoint in FETCH_FAMILIES:
            return _fetch(engine, acct, endpoint, query, now)
        if endpoint == "fetch-list":
            return _fetch_list(engine, acct, query, now)
        return ok({"balance": acct.balance, "freeze_balance": 0, "max_queue": acct.capacity})
    except BadRequest as exc:
        acct.count("count_400")
        return envelope(400, exc.message, {})


def _too_frequent(engine: Engine, acct: Account, wait: float) -> Reply:
    acct.count("count_429")
    reply = envelope(429, TOO_FREQUENT, None)
    if engine.config.retry_after_header:
        reply.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return reply


def _roll(engine: Engine, rate: float) -> bool:
    """A biased coin; the RNG is not consumed for faults that are off (keeps seeds stable)."""
    return rate > 0 and engine.rng.random() < rate


def _random_fault(engine: Engine, acct: Account, endpoint: str) -> Reply | None:
    faults = engine.faults
    if endpoint in faults.fail_paths:
        acct.count("count_500")
        return envelope(500, "Internal Server Error", None)
    if not faults.applies_to(endpoint):
        return None
    if _roll(engine, faults.rate_429):
        return _too_frequent(engine, acct, 1.0)
    if _roll(engine, faults.rate_500):
        acct.count("count_500")
        return envelope(500, "Internal Server Error", None)
    if _roll(engine, faults.rate_html_502):
        acct.count("count_502")
        return html(502, "502 Bad Gateway")
    if _roll(engine, faults.rate_truncated):
        return Reply(200, TRUNCATED)
    return None


def _submit(
    engine: Engine, acct: Account, endpoint: str, raw: bytes, now: float, received: float | None
) -> Reply:
    check = validate_media if endpoint in MEDIA_SUBMITS else validate
    spec = check(endpoint, parse_body(raw), lambda job_id: engine.find_job(acct, job_id), now)
    for word in rules.BANNED_WORDS:
        if rules.has_word(spec.prompt, word):
            raise BadRequest(f"banned prompt words :{word}")
    mode = spec.mode or (spec.parent.mode if spec.parent else "fast")
    cost = media.cost(spec.action, mode, spec.media)
    if acct.balance < cost:
        acct.count("count_402")
        return envelope(402, "Insufficient balance", None)
    if engine.in_progress(acct, now) >= acct.capacity:
        acct.count("count_499")
        return envelope(499, "User product queue insufficient", None)
    job = engine.create(acct, spec, mode, cost, now, requested=received)
    if engine.faults.applies_to(endpoint):
        if _roll(engine, engine.faults.rate_504_after_create):
            acct.count("count_504")
            return html(504, "504 Gateway Time-out")
        if _roll(engine, engine.faults.rate_502_after_create):
            acct.count("count_502")
            return html(502, "502 Bad Gateway")
        if _roll(engine, engine.faults.rate_500_after_create):
            acct.count("count_500")
            return envelope(500, "Internal Server Error", None)
        if _roll(engine, engine.faults.rate_reset_after_create):
            acct.count("count_reset")
            return Reply(0, reset=True)
    reply = ok({submit_id_name(endpoint, engine.faults.submit_id_key): job.job_id})
    if engine.faults.applies_to(endpoint) and _roll(engine, engine.faults.rate_hold_submit):
        acct.count("count_held")  # the job exists; its answer is held
        reply.delay = engine.faults.hold_submit_s
    return reply


def _fetch(
    engine: Engine, acct: Account, endpoint: str, query: dict[str, str], now: float
) -> Reply:
    """A job's state at `now`; a job of another family (an edit on v1 fetch) is not found."""
    job_id = query.get("jobId", "")
    if not job_id:
        raise BadRequest("jobId: required")
    job = engine.find_job(acct, job_id)
    if job is None or media.family(job.action) not in FETCH_FAMILIES[endpoint]:
        acct.count("count_404")
        return envelope(404, "Job not found", None)
    job.fetches += 1
    if job.seen_end is None and not job.live(now):
        job.seen_end = now
    return json_reply(200, fetch_body(job, now, engine.base_url, engine.faults.video_list_key))


def _fetch_list(engine: Engine, acct: Account, query: dict[str, str], now: float) -> Reply:
    page = _int_param(query, "page", 1)
    limit = _int_param(query, "limit", 10)
    if page < 1:
        raise BadRequest("page: must be 1 or more")
    if not 1 <= limit <= 100:
        raise BadRequest("limit: must be between 1 and 100")
    status = query.get("status") or None
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status: must be one of {', '.join(STATUSES)}")
    order = (query.get("order") or "desc").lower()
    if order not in ("asc", "desc"):
        raise BadRequest("order: must be asc or desc")
    jobs = [job for job in acct.history if status is None or job.status(now) == status]
    if order == "desc":
        jobs.reverse()
    rows = [job.list_item(now, engine.base_url) for job in jobs[(page - 1) * limit : page * limit]]
    return ok({"list": rows, "page": page, "limit": limit, "total": len(jobs)})


def _int_param(query: dict[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name}: must be an integer") from None
