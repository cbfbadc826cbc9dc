"""What a run costs: worker CPU seconds (psutil) and Redis commands (`INFO commandstats`).

Both are before/after differences, so one redis-server and one set of worker processes can be
measured for just the part of their life a benchmark cares about:

    meter = CostMeter(redis_client, lambda: [node.proc.pid for node in stack.nodes])
    with meter:
        ...  # send jobs, wait for them
    cost = meter.cost            # Cost(cpu_s=..., redis_calls={"evalsha": ..., ...})
    cost.per_job(100)            # {"cpu_ms_per_job": ..., "redis_cmds_per_job": ..., ...}

CPU: each root pid and all its live descendants are sampled at start and at end (user + system,
plus `children_user`/`children_system`, which the kernel adds to a parent once it has *reaped* an
exited child). A process that starts and exits between the two samples without being reaped by a
measured parent is lost; one that exits before the end sample loses what it used since the start
sample. Prefork pool processes live as long as the node, so for Celery this is accurate.

Redis: the sum of `calls` over every command in `INFO commandstats`, minus the `info` calls the
meter makes itself. It counts every client of the server: the workers, the sender's publishes and
the result reads of whoever waits for the jobs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import psutil

#: Commands the meter issues itself and leaves out of the totals.
OWN_COMMANDS = frozenset({"info"})


def tree_sample(root_pids: Iterable[int]) -> tuple[dict[int, float], dict[int, str]]:
    """CPU seconds used so far, and the role, of each live process in the trees of
    `root_pids`, by pid, read in one walk (a process is never counted without its role).

    CPU per process: user + system + reaped children's user + system. Roles: "main" (a root),
    "engine" (a node's engine process, `worker.adapter.engine_process`) or "pool" (any other
    child: the prefork pool's processes and, on a node run with `-B`, its embedded beat, which
    has the same command line: about 2.5 ms of CPU a second, idle or not). Processes that
    vanish while being read are skipped.
    """
    seen: dict[int, float] = {}
    roles: dict[int, str] = {}
    for pid in root_pids:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        for proc in procs:
            try:
                t = proc.cpu_times()
                engine = proc is not root and any("engine_process" in a for a in proc.cmdline())
            except psutil.Error:
                continue
            seen[proc.pid] = t.user + t.system + t.children_user + t.children_system
            roles[proc.pid] = "main" if proc is root else "engine" if engine else "pool"
    return seen, roles


def tree_cpu(root_pids: Iterable[int]) -> dict[int, float]:
    """CPU seconds used so far by each live process in the trees of `root_pids`, by pid
    (`tree_sample`'s first half)."""
    return tree_sample(root_pids)[0]


def cpu_by_role(
    before: dict[int, float], after: dict[int, float], roles: dict[int, str]
) -> dict[str, float]:
    """`cpu_diff` split by the processes' roles (`tree_sample`); a pid of no known role counts
    as "pool"."""
    out: dict[str, float] = {}
    for pid, used in after.items():
        role = roles.get(pid, "pool")
        out[role] = out.get(role, 0.0) + max(0.0, used - before.get(pid, 0.0))
    return out


def cpu_diff(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two `tree_cpu` samples.

    A pid present in both counts its growth; a pid new at the end counts all it used; a pid
    gone at the end contributes nothing (its use after `before` is not observable).
    """
    return sum(max(0.0, used - before.get(pid, 0.0)) for pid, used in after.items())


def command_calls(info: dict[str, Any]) -> dict[str, int]:
    """`{command: calls}` from redis-py's parsed `INFO commandstats` (`cmdstat_get` → `get`)."""
    calls: dict[str, int] = {}
    for name, stats in info.items():
        if name.startswith("cmdstat_") and isinstance(stats, dict):
            calls[name.removeprefix("cmdstat_").lower()] = int(stats.get("calls", 0))
    return calls


def calls_diff(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Calls per command made between two samples, without the meter's own and without zeros."""
    out = {
        cmd: n - before.get(cmd, 0)
        for cmd, n in after.items()
        if cmd not in OWN_COMMANDS and n - before.get(cmd, 0) > 0
    }
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


@dataclass
class Cost:
    """CPU seconds of the measured process trees and Redis calls per command over one span."""

    cpu_s: float = 0.0
    redis_calls: dict[str, int] = field(default_factory=dict)
    #: `cpu_s` split by process role: "main", "pool", "engine" (`tree_sample`).
    cpu_roles: dict[str, float] = field(default_factory=dict)

    @property
    def redis_total(self) -> int:
        """All Redis commands in the span."""
        return sum(self.redis_calls.values())

    @property
    def celery_messages(self) -> int:
        """Kombu's Redis transport publishes each message with one LPUSH: a cheap message count."""
        return self.redis_calls.get("lpush", 0)

    def top(self, n: int = 10) -> list[tuple[str, int]]:
        """The `n` most frequent commands, most frequent first."""
        return list(self.redis_calls.items())[:n]

    def per_job(self, jobs: int) -> dict[str, Any]:
        """CPU ms (in all, and by process role), Redis commands and Celery messages per job."""
        jobs = max(jobs, 1)
        return {
            "cpu_ms_per_job": round(1000 * self.cpu_s / jobs, 2),
            "cpu_ms_per_job_by_role": {
                role: round(1000 * used / jobs, 2) for role, used in sorted(self.cpu_roles.items())
            },
            "redis_cmds_per_job": round(self.redis_total / jobs, 1),
            "celery_msgs_per_job": round(self.celery_messages / jobs, 2),
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "cpu_s": round(self.cpu_s, 3),
            "cpu_roles": {role: round(used, 3) for role, used in self.cpu_roles.items()},
            "redis_calls": dict(self.redis_calls),
        }


class CostMeter:
    """Samples CPU and Redis at `start()` and `stop()`; also a context manager.

    `pids` is called at each sample, so it can follow nodes started after the meter was made.
    `redis` is any redis-py client of the server to measure (`.info("commandstats")`).
    """

    def __init__(self, redis: Any, pids: Callable[[], Iterable[int]]) -> None:
        self.redis = redis
        self.pids = pids
        self._cpu: dict[int, float] = {}
        self._roles: dict[int, str] = {}
        self._calls: dict[str, int] = {}
        self.cost = Cost()

    def start(self) -> CostMeter:
        """Take the first samples."""
        self._cpu, self._roles = tree_sample(self.pids())
        self._calls = command_calls(self.redis.info("commandstats"))
        return self

    def stop(self) -> Cost:
        """Take the second samples; the difference is `self.cost` (also returned)."""
        after, roles_now = tree_sample(self.pids())
        roles = cpu_by_role(self._cpu, after, {**self._roles, **roles_now})
        calls = calls_diff(self._calls, command_calls(self.redis.info("commandstats")))
        self.cost = Cost(cpu_s=cpu_diff(self._cpu, after), redis_calls=calls, cpu_roles=roles)
        return self.cost

    def __enter__(self) -> CostMeter:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
