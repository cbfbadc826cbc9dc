"""Reading many task states at once: one MGET for any number of task ids.

`AsyncResult.state` costs one Redis GET per task; a watcher of 10,000 pipelines would send
10,000 commands per tick. The Redis result backend keeps each task's state under
`backend.get_key_for_task(id)` (`celery-task-meta-<id>`), so `ResultReader.read` fetches every
key in one MGET and decodes them the way the backend does (exceptions rebuilt, custom states
such as WAITING/SUBMITTED with their `info` dict kept as is).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from celery.backends.base import Backend, BaseKeyValueStoreBackend
from celery.result import AsyncResult

from worker.jobs.states import READY, TaskState


@dataclass(frozen=True)
class Meta:
    """A task's state and its value: the result, the exception, or the `info` of a custom state."""

    state: str
    value: Any = None

    @property
    def ready(self) -> bool:
        """The task has ended (SUCCESS, FAILURE or REVOKED)."""
        return self.state in READY

    @property
    def ok(self) -> bool:
        """The task ended in SUCCESS."""
        return self.state == TaskState.SUCCESS

    @property
    def info(self) -> dict[str, Any]:
        """The value as a dict (custom states' info), or an empty dict."""
        return self.value if isinstance(self.value, dict) else {}


PENDING = Meta(TaskState.PENDING)


class ResultReader:
    """Reads task states in bulk from a Celery result backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.calls = 0  # round trips made, for tests and benchmarks
        self._kv = isinstance(backend, BaseKeyValueStoreBackend)

    def key(self, task_id: str) -> bytes:
        """The backend's key of a task's state (`celery-task-meta-<id>` with Redis)."""
        if not self._kv:
            return task_id.encode()
        return bytes(self.backend.get_key_for_task(task_id))

    def read(self, ids: Sequence[str]) -> list[Meta]:
        """The state of every id, in order; one backend call whatever the number of ids."""
        return self.read_keys([self.key(i) for i in ids])

    def read_keys(self, keys: Sequence[bytes]) -> list[Meta]:
        """The state stored under each key (see `key`), in order, in one MGET."""
        if not keys:
            return []
        self.calls += 1
        if not self._kv:  # e.g. a database backend: one query per task
            found = [AsyncResult(k.decode(), backend=self.backend) for k in keys]
            return [Meta(r.state, r.info) for r in found]
        raws = self.backend.mget(list(keys))
        if isinstance(raws, dict):  # some key-value backends answer with a mapping
            raws = [raws.get(k) for k in keys]
        return [PENDING if raw is None else self._decode(raw) for raw in raws]

    def _decode(self, raw: Any) -> Meta:
        meta = self.backend.decode_result(raw)
        return Meta(str(meta.get("status", TaskState.PENDING)), meta.get("result"))
