"""How job steps become Celery messages: re-publishes, polls, fills and visible task states.

The Celery side of the engine's `Dispatcher`: what a step asks for (resume this job, fetch
that one in 2 s) turns into a message on the control queue, with ETAs on Redis's clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from worker.jobs.ticks import PollTicks, poll_ticks, run_tick
from worker.text import text

if TYPE_CHECKING:
    from worker.app import MJCelery

log = logging.getLogger(__name__)

# KEYS: the task's result key. ARGV: encoded meta, ttl (s). Writes and publishes (as Celery's
# Redis backend does) unless the stored state is already a final one.
_PUBLISH_STATE = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local status = string.match(cur, '"status":%s*"(%u+)"')
  if status == 'SUCCESS' or status == 'FAILURE' or status == 'REVOKED' then return 0 end
end
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1
"""


class CeleryDispatcher:
    """Publishes job steps as Celery messages.

    Countdowns become ETAs on Redis's clock (`Runtime.clock`), not this host's: a worker whose
    clock is off would otherwise hold every message it publishes for as long as it is off.
    """

    def __init__(self, app: MJCelery) -> None:
        self.app = app
        self._publish: Any = None
        self._producer: Any = None
        self._events: Any = None
        self._ticks: PollTicks | None = None

    def producer(self) -> Any:
        """This process's producer, kept: acquiring one from the pool for every message costs
        more than the message. Its publishes retry (and reconnect) per `PUBLISH_RETRY`."""
        if self._producer is None:
            self._producer = self.app.amqp.Producer(self.app.connection_for_write())
        return self._producer

    def _eta(self, countdown: float) -> datetime | None:
        if countdown <= 0:
            return None
        return datetime.fromtimestamp(self.app.runtime.clock() + countdown, UTC)

    def resume(self, job_id: str, countdown: float = 0.0) -> None:
        """Re-publish a parked task from the signature stored in its record.

        Without the caller's `expires`: the job engine applies it itself (a job not submitted
        by then is revoked), while a job TTAPI already ran must still deliver its result.
        """
        stored = self.app.runtime.records.signature(job_id)
        if not stored:
            return
        sig = self.app.signature(stored)
        for option in ("expires", "queue", "exchange", "routing_key"):
            sig.options.pop(option, None)
        # On the control queue: a wake-up or a delivery must not wait behind the backlog.
        sig.apply_async(
            eta=self._eta(countdown),
            queue=self.app.mj_settings.mj_control_queue,
            producer=self.producer(),
        )

    @property
    def ticks(self) -> PollTicks:
        """The per-account due polls (built on first use, from this process's Runtime)."""
        if self._ticks is None:
            self._ticks = poll_ticks(self.app.runtime)
        return self._ticks

    def poll(self, job_id: str, seq: int, countdown: float, account: str = "") -> None:
        """Schedule one poll step: batched with the account's other due polls into one tick
        message (`worker.jobs.ticks`); a job with no account gets a message of its own."""
        if not account:
            self.app.send_task(
                "mj.poll", args=[job_id, seq], eta=self._eta(countdown), producer=self.producer()
            )
            return
        now = self.app.runtime.clock()
        due_ms = self.ticks.schedule(account, job_id, seq, now + countdown, now)
        if due_ms is not None:
            self.tick(account, due_ms)

    def tick(self, label: str, due_ms: int) -> None:
        """Publish the account's poll tick for `due_ms` (ms on Redis's clock)."""
        countdown = due_ms / 1000 - self.app.runtime.clock()
        self.app.send_task(
            "mj.tick", args=[label, due_ms], eta=self._eta(countdown), producer=self.producer()
        )

    def run_tick(self, label: str, due_ms: int, poll: Callable[[str, int], None]) -> int:
        """Run the account's tick due at `due_ms` (see `worker.jobs.ticks.run_tick`)."""
        clock = self.app.runtime.clock()
        return run_tick(
            self.ticks, label, due_ms, clock, next_tick=partial(self.tick, label), poll=poll
        )

    def fill(self, label: str, countdown: float) -> None:
        """Hand out an account's free slots after a cooldown."""
        self.app.send_task(
            "mj.fill", args=[label], eta=self._eta(countdown), producer=self.producer()
        )

    def publish_state(self, job_id: str, state: str, meta: dict[str, Any]) -> None:
        """Store a custom state where the caller's AsyncResult looks, unless the task ended.

        One script checks and writes, so a late progress update can never hide the SUCCESS,
        FAILURE or REVOKED that Celery already stored (a caller waiting on it would hang).
        """
        backend = self.app.backend
        key = backend.get_key_for_task(job_id)
        # Celery's own layout of a stored state (celery.backends.base._get_result_meta).
        value = backend.encode(
            {
                "status": state,
                "result": meta,
                "traceback": None,
                "children": [],
                "date_done": None,
                "task_id": job_id,
            }
        )
        ttl = int(
            self.app.conf.result_expires.total_seconds()
            if isinstance(self.app.conf.result_expires, timedelta)
            else self.app.conf.result_expires or 0
        )
        if self._publish is None:
            self._publish = self.app.runtime.redis.register_script(_PUBLISH_STATE)
        key_text = text(key)
        if not int(self._publish(keys=[key_text], args=[value, ttl])):
            return
        if self.app.conf.worker_send_task_events:
            # Flower reads events, not the result backend: `task-waiting` shows as WAITING.
            # One dispatcher per process; while Redis is away it buffers instead of raising.
            if self._events is None:
                self._events = self.app.events.Dispatcher(self.app.connection_for_write())
            self._events.send(f"task-{state.lower()}", uuid=job_id, **meta)
