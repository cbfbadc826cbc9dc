"""Is anything consuming the queues, and is the pump running? Read from Redis in one go.

- queue depths: Celery's Redis transport keeps each queue as a list named after it (plus one
  list per priority step for prioritised messages); messages a worker already holds (running,
  or waiting for their countdown) are not in the list;
- workers: the heartbeats of `worker.adapter.heartbeat`, online while fresh;
- the pump: `keys.pump_last`, written by each pump round.

`verdict` turns that into `ok` or `degraded` with the reasons: a queue with messages that no
online worker consumes, a pump that is late (or, once a worker has been up a while, never
recorded a round), or submits paused because too few replicas acknowledge their intent.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from worker.jobs.durable import pause_reason
from worker.ops.view import OpsView
from worker.policy import PUMP_LATE_GRACE_S, PUMP_LATE_ROUNDS
from worker.text import text

PRIORITY_SEP = "\x06\x16"  # kombu's Redis transport: `queue<sep><step>` for priorities 3, 6, 9
PRIORITY_STEPS = (3, 6, 9)


@dataclass
class WorkerBeat:
    """One worker node's last heartbeat."""

    hostname: str
    queues: list[str]
    at: float
    since: float
    online: bool
    age_s: float


@dataclass
class Liveness:
    """Queues, workers and the pump as Redis shows them at `now` (Redis time)."""

    now: float
    queues: dict[str, int]
    workers: list[WorkerBeat]
    pump_last: float | None
    pump_interval_s: float
    consumers: dict[str, int] = field(default_factory=dict)
    submits_paused: dict[str, Any] | None = None  # too few replicas acknowledge: why, since

    @property
    def pump_age_s(self) -> float | None:
        """Seconds since the pump's last recorded round (None: none recorded)."""
        return None if self.pump_last is None else max(0.0, self.now - self.pump_last)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with the verdict."""
        status, reasons = verdict(self)
        return {
            "status": status,
            "reasons": reasons,
            "queues": [
                {"queue": q, "messages": n, "workers": self.consumers.get(q, 0)}
                for q, n in self.queues.items()
            ],
            "workers": [asdict(w) for w in self.workers],
            "pump": {
                "last_run": self.pump_last,
                "age_s": self.pump_age_s,
                "interval_s": self.pump_interval_s,
                "late": pump_late(self) is not None,
            },
            "submits": {"paused": self.submits_paused is not None, "why": self.submits_paused},
        }


def read(view: OpsView) -> Liveness:
    """Everything liveness needs, in two round trips."""
    now = view.now()
    pipe = view.redis.pipeline(transaction=False)
    pipe.hgetall(view.keys.workers)
    pipe.get(view.keys.pump_last)
    pipe.get(view.keys.submits_paused)
    raw_beats, last, paused = pipe.execute()
    workers = sorted(_beats(raw_beats, now), key=lambda w: w.hostname)
    names = list(dict.fromkeys([*view.queues, *(q for w in workers for q in w.queues)]))
    pipe = view.redis.pipeline(transaction=False)
    for name in names:
        pipe.llen(name)
        for step in PRIORITY_STEPS:
            pipe.llen(f"{name}{PRIORITY_SEP}{step}")
    lengths = pipe.execute()
    width = 1 + len(PRIORITY_STEPS)
    queues = {n: sum(lengths[i * width : (i + 1) * width]) for i, n in enumerate(names)}
    consumers = {n: sum(1 for w in workers if w.online and n in w.queues) for n in names}
    return Liveness(
        now=now,
        queues=queues,
        workers=workers,
        pump_last=float(text(last)) if last else None,
        pump_interval_s=view.settings.mj_pump_interval_s,
        consumers=consumers,
        submits_paused=_note(paused),
    )


def _note(raw: Any) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        note = json.loads(text(raw))
    except ValueError:
        return {}
    return note if isinstance(note, dict) else {}


def _beats(raw: dict[Any, Any], now: float) -> list[WorkerBeat]:
    found = []
    for host, value in raw.items():
        try:
            beat = json.loads(text(value))
            at, stale = float(beat["at"]), float(beat.get("stale_after", 30))
            queues = [str(q) for q in beat.get("queues", [])]
            since = float(beat.get("since", at))
        except (ValueError, TypeError, KeyError):
            continue
        age = max(0.0, now - at)
        found.append(WorkerBeat(text(host), queues, at, since, age <= stale, round(age, 3)))
    return found


def late_after_s(interval_s: float) -> float:
    """How old the pump's last round may be before it counts as late."""
    return PUMP_LATE_ROUNDS * interval_s + PUMP_LATE_GRACE_S


def pump_late(live: Liveness) -> str | None:
    """Why the pump counts as late, or None."""
    limit = late_after_s(live.pump_interval_s)
    age = live.pump_age_s
    if age is not None:
        if age <= limit:
            return None
        return (
            f"the pump last ran {age:.0f}s ago (expected every {live.pump_interval_s:g}s): "
            "is beat running?"
        )
    up = [live.now - w.since for w in live.workers if w.online]
    if up and max(up) > limit:
        return "no pump round recorded while workers are up: is beat running?"
    return None


def verdict(live: Liveness) -> tuple[str, list[str]]:
    """`("ok", [])` or `("degraded", reasons)`."""
    reasons = [
        f"no worker consumes {queue} ({n} message{'s' if n != 1 else ''} waiting)"
        for queue, n in live.queues.items()
        if n > 0 and live.consumers.get(queue, 0) == 0
    ]
    late = pump_late(live)
    if late:
        reasons.append(late)
    if live.submits_paused is not None:
        reasons.append(pause_reason(live.submits_paused))
    return ("degraded" if reasons else "ok"), reasons


__all__ = ["Liveness", "WorkerBeat", "late_after_s", "pump_late", "read", "verdict"]
