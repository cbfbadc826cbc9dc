"""Replicas for tests on fakeredis, which knows no `WAIT`: they acknowledge what a test says."""

from __future__ import annotations

from typing import Any

from worker.jobs.replicas import Durability


class StubReplicas(Durability):
    """`replicas` wanted; `acked` of them acknowledge each wait (change it mid-test)."""

    def __init__(self, replicas: int = 1, acked: int = 1, wait_ms: int = 50) -> None:
        super().__init__(replicas, wait_ms)
        self.acked = acked
        self.waits = 0

    def needed(self, client: Any) -> bool:
        return self.replicas > 0

    def acknowledged(self, pipe: Any) -> list[Any]:
        self.waits += 1
        return [*pipe.execute(), self.acked]
