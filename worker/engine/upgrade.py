"""Messages of the version before the engine, still queued or scheduled when a node upgrades.

`mj.poll`, `mj.tick` and `mj.fill` were Celery messages; they are registered still, and hand
what they ask for to the engine holding the account, as hints. Nothing else needs them.
"""

from __future__ import annotations

from worker.jobs import hints
from worker.jobs.runtime import Runtime


def poll(rt: Runtime, job_id: str, seq: int) -> None:
    """An old `mj.poll`: fetch the job soon, through its account's engine."""
    rec = rt.records.load(job_id)
    if rec is not None and rec.account:
        hints.ask_poll(rt.redis, rt.keys, rec.account, job_id, seq, rt.clock())


def tick(rt: Runtime, label: str) -> int:
    """An old `mj.tick`: the account's due polls (its `polls` sorted set, `job|seq` scored by
    due ms) become hints, and the old keys go, read and deleted in one transaction (an old
    node may still add a poll meanwhile). Returns how many polls were handed on."""
    pipe = rt.redis.pipeline(transaction=True)
    pipe.zrange(rt.keys.polls(label), 0, -1)
    pipe.delete(rt.keys.polls(label), rt.keys.tick(label))
    members = [str(m) for m in pipe.execute()[0]]
    now_ms = int(rt.clock() * 1000)
    found = []
    for member in members:
        job_id, _, seq = member.rpartition("|")
        if job_id and seq.isdigit():
            found.append(hints.poll_hint(job_id, int(seq), now_ms))
    hints.push(rt.redis, rt.keys, label, [*found, hints.fill_hint()])
    return len(found)


def fill(rt: Runtime, label: str) -> None:
    """An old `mj.fill`: hand the account's free slots out, through its engine."""
    hints.ask_fill(rt.redis, rt.keys, label)


__all__ = ["fill", "poll", "tick"]
