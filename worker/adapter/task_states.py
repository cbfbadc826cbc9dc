"""A custom task state (WAITING, SUBMITTED) as Celery's Redis result backend stores it, and the
script that stores it where the caller's AsyncResult looks (`CeleryDispatcher.publish_state`).
"""

from __future__ import annotations

from typing import Any

from worker.lua import script
from worker.text import text

# KEYS: the task's result key. ARGV: encoded meta, ttl (s). Writes and publishes (as Celery's
# Redis backend does) unless the stored state is already a final one (or SUBMITTED, for a
# WAITING). It writes and reads in one SET ... GET (Redis 6.2+; before, GET then SET): a state
# that must stay is put back in the same breath, expiring `ttl` from now.
# With a second key, the job's record, and ARGV[3...] a progress note (`RecordStore.note_call`):
# the note lands first, and the state shows only if it did.
PUBLISH_STATE = script("jobs/records/note_fn.lua", "adapter/dispatch/publish_state.lua")


def stored_state(backend: Any, job_id: str, state: str, meta: dict[str, Any]) -> tuple[str, str]:
    """The result key of `job_id` and the state as Celery's own layout stores it
    (celery.backends.base._get_result_meta), encoded by `backend`."""
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
    return text(backend.get_key_for_task(job_id)), value


__all__ = ["PUBLISH_STATE", "stored_state"]
