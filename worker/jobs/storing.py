"""Stored before delivered: a finished job's "storing" flag, and how its copy ends.

With MJ_STORAGE_URL set, a job that TTAPI reports finished ends SUCCESS as always (its slot is
freed at once, its ending counted), with a flag of its own in its record, `storing`:

    hold        the last job step of its chain: its report waits for the copy (or its end)
    background  an intermediate step with MJ_STORAGE_STEPS=all: delivered at once, copied after
    (empty)     nothing to copy, or the copy ended

A held job is owed (`undelivered`) like any ended job, but nobody reports it while the flag
holds: the task's report run parks (`worker.jobs.entry`), the pump's re-publish passes it by.
Every flagged job is also in the `storing` index, which the pump reads to hand a job whose
copier died (its claim lapsed) to the engine of its account again (`revive`). The copy itself
(`worker.storage`) runs in the engine's storage pool and ends here: `finish` with the stored
links, or `give_up` after MJ_STORAGE_RETRY_S with `stored: null` and `storage_error`. Both are
compare-and-sets on the flag, so the report is published once, whoever copied.
"""

from __future__ import annotations

import logging
from typing import Any

from worker.jobs.effects import Effect, Effects, Report, Store
from worker.jobs.record import RecordState, Storing
from worker.jobs.records import JobRecord
from worker.jobs.runtime import Runtime
from worker.ttapi.kinds import SPECS

log = logging.getLogger(__name__)

# The job tasks: a chain that goes on with one of these goes on with another job step.
JOB_TASKS = tuple(spec.task for spec in SPECS.values())
FILE_FIELDS = ("image_url", "images", "videos")
REVIVE_BATCH = 500  # storing jobs the pump looks at in one round


def mode_for(rt: Runtime, rec: JobRecord, result: dict[str, Any]) -> Storing:
    """How the job's files are stored: HOLD, BACKGROUND, or NONE (no store, nothing to copy,
    or an intermediate step under MJ_STORAGE_STEPS=final)."""
    if not rt.settings.mj_storage_url or not any(result.get(f) for f in FILE_FIELDS):
        return Storing.NONE
    if is_last_step(rec.sig):
        return Storing.HOLD
    return Storing.BACKGROUND if rt.settings.mj_storage_steps == "all" else Storing.NONE


def is_last_step(sig: dict[str, Any]) -> bool:
    """True when no job step follows in the task's chain or callbacks (a download, or a
    caller's own task, may): its result is the one a caller keeps."""
    options = sig.get("options") or {}
    later = [*(options.get("chain") or []), *(options.get("link") or [])]
    return not any(isinstance(s, dict) and s.get("task") in JOB_TASKS for s in later)


def held(rec: JobRecord) -> bool:
    """True while the job's result waits for its copy: it must not be reported yet."""
    return rec.storing == Storing.HOLD


def pending(rec: JobRecord) -> Storing:
    """The job's storing mode while its copy has not ended, else NONE."""
    copying = rec.state == RecordState.SUCCESS and rec.storing in (Storing.HOLD, Storing.BACKGROUND)
    return rec.storing if copying else Storing.NONE


def since(rec: JobRecord) -> float:
    """When the job started waiting for its copy (epoch seconds, Redis time)."""
    return rec.storing_since or rec.finished_at_ts


def fields(mode: Storing, now: float) -> dict[str, Any]:
    """What the ending compare-and-set writes for a job stored in `mode`."""
    return {"storing": mode, "storing_since": now} if mode else {}


def note(client: Any, rt: Runtime, job_id: str, now: float) -> None:
    """List the job in the storing index (through `client`, a pipeline the caller sends)."""
    client.zadd(rt.keys.storing, {job_id: now})


def hand_over(rec: JobRecord) -> Store:
    """Have the job's files copied: by the storage pool of the engine holding its account."""
    return Store(rec.job_id, rec.account)


def finish(
    rt: Runtime, rec: JobRecord, stored: dict[str, Any] | None, error: str = ""
) -> tuple[bool, Effects]:
    """End the copy: the result gains `stored` (or `stored: null` and `storage_error`), and a
    held job's report is published. False if the copy had already ended (another copier)."""
    mode = pending(rec)
    if not mode:
        return False, []
    result = {**rec.result, "stored": stored}
    if error:
        result["storage_error"] = error
    if not rt.records.cas(
        rec.job_id,
        {"state": RecordState.SUCCESS, "storing": mode},
        storing=Storing.NONE,
        result=result,
    ):
        return False, []
    now = rt.clock()
    pipe = rt.redis.pipeline(transaction=False)
    pipe.zrem(rt.keys.storing, rec.job_id)
    if error:
        pipe.incr(rt.keys.storage_failures)
    if mode == Storing.HOLD:  # owed since its end: the pump waits a while before it re-publishes
        pipe.zadd(rt.keys.undelivered, {rec.job_id: now}, xx=True)
    pipe.execute()
    return True, [Report.end(rec.job_id, rec.sig)] if mode == Storing.HOLD else []


def give_up(rt: Runtime, rec: JobRecord, error: str) -> tuple[bool, Effects]:
    """The store stayed away past MJ_STORAGE_RETRY_S: deliver with `stored: null`."""
    log.warning("job %s: not stored (%s); delivered with stored: null", rec.job_id, error)
    return finish(rt, rec, None, f"not stored after {rt.settings.mj_storage_retry_s:g} s: {error}")


def claimed(rt: Runtime, job_id: str) -> bool:
    """Whether an engine holds the job's copy claim now (it renews it while the copy runs)."""
    return bool(rt.redis.exists(rt.keys.store_claim(job_id)))


def revive(rt: Runtime, now: float, stall: float) -> tuple[int, Effects]:
    """The pump's look at the storing index: a job whose copier died (no claim) goes to its
    account's engine again; one past MJ_STORAGE_RETRY_S with no copier is delivered with
    `stored: null` here. Returns how many jobs were handed over or given up."""
    found = rt.redis.zrangebyscore(rt.keys.storing, 0, now - stall, start=0, num=REVIVE_BATCH)
    due = [str(j) for j in found]  # bounded work per round: the rest wait for the next one
    done, fx = 0, list[Effect]()
    for job_id in due:
        rec = rt.records.load(job_id)
        if rec is None or not pending(rec):
            rt.redis.zrem(rt.keys.storing, job_id)
            continue
        rt.redis.zadd(rt.keys.storing, {job_id: now}, xx=True)
        if claimed(rt, job_id):
            continue
        if now - since(rec) > rt.settings.mj_storage_retry_s:
            gave_up, more = give_up(
                rt, rec, "no engine copied it (the store or the engines were away)"
            )
            done, fx = done + gave_up, fx + more
            continue
        log.warning("job %s: its copy to the store has no copier; handing it over", job_id)
        fx.append(hand_over(rec))
        done += 1
    return done, fx


__all__ = [
    "claimed",
    "finish",
    "give_up",
    "hand_over",
    "held",
    "is_last_step",
    "mode_for",
    "note",
    "pending",
    "revive",
    "since",
]
