"""The simulator's own endpoints under `/_sim/`: stats, faults, accounts, images (no key)."""

from __future__ import annotations

import re
from typing import Any

from worker.devtools.simulator.engine import Engine
from worker.devtools.simulator.images import png_bytes
from worker.devtools.simulator.jobs import Job
from worker.devtools.simulator.media import VideoSpec
from worker.devtools.simulator.reply import Reply, json_reply
from worker.devtools.simulator.validation import BadRequest, parse_body
from worker.devtools.simulator.videos import mp4_bytes

_IMAGE = re.compile(r"^/_sim/images/([0-9a-f-]{36})/((?:cdn)?[0-4])\.png$")
_VIDEO = re.compile(r"^/_sim/videos/([0-9a-f-]{36})/([0-3])\.mp4$")


def handle_control(engine: Engine, method: str, path: str, raw: bytes) -> Reply | None:
    """Answer a `/_sim/...` request, or None when no such control endpoint exists."""
    if method == "GET" and (match := _IMAGE.match(path)):
        with engine.lock:
            known = match.group(1) in engine.jobs
        if not known:
            return None
        image = png_bytes(f"{match.group(1)}/{match.group(2)}", engine.config.image_px)
        return Reply(200, image, content_type="image/png")
    if method == "GET" and (match := _VIDEO.match(path)):
        return _video(engine, match.group(1), int(match.group(2)))
    if (method, path) == ("GET", "/_sim/stats"):
        with engine.lock:
            return json_reply(200, build_stats(engine))
    try:
        if (method, path) == ("POST", "/_sim/faults"):
            changes = parse_body(raw)
            with engine.lock:
                return json_reply(200, engine.set_faults(**changes))
        if (method, path) == ("POST", "/_sim/accounts"):
            return json_reply(200, _set_account(engine, parse_body(raw)))
        if (method, path) == ("POST", "/_sim/reset-stats"):
            with engine.lock:
                engine.reset_stats()
            return json_reply(200, {"status": "SUCCESS"})
    except (BadRequest, ValueError) as exc:
        return json_reply(400, {"status": "FAILED", "message": str(exc)})
    return None


def _video(engine: Engine, job_id: str, clip: int) -> Reply | None:
    """Clip `clip` of a video job as a tiny MP4 (None, so 404, for any other job or clip)."""
    with engine.lock:
        job = engine.jobs.get(job_id)
        spec = job.media if job is not None else None
    if not isinstance(spec, VideoSpec) or clip >= spec.batch:
        return None
    body = mp4_bytes(f"{job_id}/{clip}", size=engine.config.clip_bytes)
    return Reply(200, body, content_type="video/mp4")


def _set_account(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    key = body.get("key")
    if not isinstance(key, str) or not key:
        raise ValueError("key: required, the account's API key")
    unknown = set(body) - {"key", "balance", "capacity", "other_client"}
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
    for name in ("balance", "capacity", "other_client"):
        value = body.get(name)
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise ValueError(f"{name}: must be a number")
    with engine.lock:
        return engine.set_account(
            key,
            balance=body.get("balance"),
            capacity=body.get("capacity"),
            other_client=body.get("other_client"),
        )


def build_stats(engine: Engine) -> dict[str, Any]:
    """Counters per account label and per job; never a key. Times are seconds since start."""
    now = engine.now()
    accounts = {
        acct.label: {
            "peak_in_progress": acct.peak,
            "in_progress": engine.in_progress(acct, now),
            **acct.counts,
        }
        for acct in engine.accounts.values()
    }
    jobs = {
        job.job_id: _job_stats(engine, job, now) for job in engine.jobs.values() if job.in_stats
    }
    return {
        "accounts": accounts,
        "jobs": jobs,
        "elapsed": round(now - engine.t0, 6),
        "count_401": engine.count_401,
        "faults": engine.faults.to_dict(),
    }


def _job_stats(engine: Engine, job: Job, now: float) -> dict[str, Any]:
    def since(t: float) -> float | None:
        return round(t - engine.t0, 6) if t <= now else None

    return {
        "label": job.label,
        "action": job.action,
        "mode": job.mode,
        "prompt": job.prompt,
        "parent": job.parent,
        "status": job.status(now),
        "fetches": job.fetches,
        "requested_at": since(job.requested),
        "submitted_at": since(job.submitted),
        "started_at": since(job.start),
        "finished_at": since(job.end),
        "seen_end_at": None if job.seen_end is None else since(job.seen_end),
        "hook_attempts": job.hook_attempts,
        "hook_delivered": job.hook_delivered,
    }
