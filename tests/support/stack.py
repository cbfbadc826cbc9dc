"""A whole mj-worker stack for end-to-end tests: simulator + real celery worker subprocesses."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from celery import Celery
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from config.redis_url import parse_redis_url
from config.settings import account_label
from tests.support.sentinel import MASTER_NAME, SentinelSet
from worker.connect import redis_for
from worker.devtools.embedded import CeleryProcess, RedisServer
from worker.devtools.simulator import SimConfig, Simulator
from worker.keys import KEYS


def client_app(redis_url: str) -> Celery:
    """A Celery client that knows nothing of the project: only the broker and task names (and,
    under sentinel://, the master's name, as every Celery client of a Sentinel set needs)."""
    target = parse_redis_url(redis_url, master=MASTER_NAME)
    app = Celery("outsider", broker=target.celery_url(), backend=target.celery_url())
    options = target.transport_options(1.0)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        result_accept_content=["json"],
        broker_transport_options=options,
        result_backend_transport_options=options,
    )
    return app


def follower(redis_url: str) -> redis.Redis:
    """A test's own client of the master (str replies), riding out a restart or failover."""
    return redis_for(
        parse_redis_url(redis_url, master=MASTER_NAME),
        decode_responses=True,
        socket_timeout=10.0,
        socket_connect_timeout=2.0,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=40),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )


class Stack:
    """Simulator and N worker nodes sharing one redis-server; `stop()` ends all of them."""

    def __init__(
        self,
        redis_server: RedisServer | SentinelSet,
        tmp: Path,
        *,
        keys: list[str],
        capacity: int = 10,
        fast_s: float = 1.0,
        nodes: int = 1,
        concurrency: int | list[int] = 4,
        beat: bool = True,
        env: dict[str, str] | None = None,
        sim: dict[str, Any] | None = None,
        queues: list[str | None] | None = None,
        worker_args: list[str] | None = None,
    ) -> None:
        self.redis_server = redis_server
        self.tmp = tmp
        self.keys = keys
        self.labels = [account_label(k) for k in keys]
        self.redis = follower(redis_server.url)
        self.redis.flushall()
        self.sim = Simulator(
            SimConfig(keys=keys, capacity=capacity, fast_s=fast_s, **(sim or {}))
        ).start()
        self.env = {
            "REDIS_URL": redis_server.url,
            **(
                {"MJ_REDIS_SENTINEL_MASTER": MASTER_NAME}
                if "sentinel://" in redis_server.url
                else {}
            ),
            "TTAPI_API_KEYS": ",".join(keys),
            "TTAPI_BASE_URL": self.sim.url,
            "TTAPI_MAX_IN_PROGRESS": str(capacity),
            "MJ_POLL_MIN_S": "0.05",
            "MJ_POLL_MAX_S": "0.5",
            "MJ_TIME_SCALE": f"{fast_s / 60:.6f}",
            "MJ_PUMP_INTERVAL_S": "0.5",
            "MJ_RECONCILE_GRACE_S": "2",
            "MJ_HTTP_READ_TIMEOUT_S": "5",
            **(env or {}),
        }
        self.nodes: list[CeleryProcess] = []
        self.node_count, self.beat = nodes, beat
        # per node: its pool processes (`-c`); one number for every node
        self.processes = [concurrency] * nodes if isinstance(concurrency, int) else concurrency
        self.queues = queues or [None] * nodes  # per node: `-Q` (None: every queue)
        self.worker_args = list(worker_args or [])  # extra `celery worker` options, every node
        self.app = client_app(redis_server.url)

    def start(self) -> Stack:
        """Start every worker node (the first one also runs beat) and wait until ready."""
        for i in range(self.node_count):
            self.nodes.append(CeleryProcess(self.env, self.tmp / f"node{i}.log", args=self.args(i)))
            self.nodes[-1].start()
        for node in self.nodes:
            node.wait_ready()
        return self

    def args(self, i: int, name: str = "node") -> list[str]:
        """The `celery worker` arguments of node `i` (the first one also runs beat)."""
        args = [
            "worker",
            "-n",
            f"{name}{i}@%h",
            "-c",
            str(self.processes[i]),
            "-l",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        if self.beat and i == 0:
            args += ["-B", "-s", str(self.tmp / f"{name}-celerybeat-schedule")]
        if self.queues[i]:
            args += ["-Q", str(self.queues[i])]
        return args + self.worker_args

    def stop(self) -> None:
        """Stop the workers, then the simulator."""
        for node in self.nodes:
            node.stop()
        self.sim.stop()

    def logs(self) -> str:
        """Every node's log tail, for failure messages."""
        return "\n".join(f"--- {n.log_path.name}\n{n.tail(40)}" for n in self.nodes)

    def send(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Enqueue a task by name, as another service would."""
        return self.app.send_task(name, args=args, kwargs=kwargs)

    def wait_for(self, check: Callable[[], bool], timeout: float = 30.0) -> None:
        """Wait until `check()` is true (a condition on servers, so it is polled)."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError("condition not met in time\n" + self.logs())
            time.sleep(0.05)

    def holders(self, label: str) -> int:
        """Slots of `label` held in the guard right now."""
        return int(self.redis.zcard(KEYS.slots(label)))
