"""A restartable stack for one fault scenario: AOF redis-server (or a master, replicas and three
sentinels), simulator, celery nodes, receiver.

Built on tests/stack.py's `Stack` (simulator, worker env, client app); this adds what faults
need: a redis-server that can be restarted or killed, nodes started, killed and restarted one
by one with their own environment, and an optional `mjw webhook` receiver. `stop()` ends every
process it started, by pid, also after a failure half-way.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celery.result import AsyncResult

from config.redis_url import parse_redis_url
from config.settings import account_label
from tests.faults.count import Counts
from tests.faults.receiver import WebhookReceiver
from tests.faults.row import Outcome
from tests.support.sentinel import SentinelSet
from tests.support.stack import Stack
from tests.support.tls_proxy import TLSProxy
from worker.devtools.embedded import CeleryProcess, RedisServer, free_port
from worker.keys import KEYS


@dataclass
class Plan:
    """What a scenario's stack looks like; `node_env` adds variables to one node only."""

    keys: list[str]
    capacity: int = 10
    fast_s: float = 2.0
    nodes: int = 2
    concurrency: int = 4
    env: dict[str, str] = field(default_factory=dict)
    sim: dict[str, Any] = field(default_factory=dict)
    node_env: dict[int, dict[str, str]] = field(default_factory=dict)
    sim_keys: list[str] | None = None  # keys the simulator knows (default: all of `keys`)
    webhook: bool = False
    # TLSProxy options: the nodes reach the simulator through a TLS-terminating proxy (its
    # throwaway CA trusted through REQUESTS_CA_BUNDLE, as the client picks its CA bundle).
    tls_proxy: dict[str, Any] | None = None
    replicas: int = 0  # > 0: Redis is a master, this many replicas and three sentinels


@dataclass
class Sent:
    """One job as its caller holds it."""

    prompt: str
    result: AsyncResult


class Harness(Counts):
    """The running stack of one scenario (use as a context manager)."""

    def __init__(self, plan: Plan, workdir: Path) -> None:
        self.plan, self.workdir = plan, workdir
        self.labels = [account_label(k) for k in plan.keys]
        self.redis_server: RedisServer | SentinelSet = (
            SentinelSet(workdir / "redis", replicas=plan.replicas)
            if plan.replicas
            else RedisServer(workdir / "redis", appendonly=True, appendfsync="everysec")
        )
        self.nodes: list[CeleryProcess] = []
        self.receiver: WebhookReceiver | None = None
        self.proxy: TLSProxy | None = None
        self._generation = 0
        self.tag = uuid.uuid4().hex[:6]

    def __enter__(self) -> Harness:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        try:
            self.stop()
        except Exception:
            if exc_type is None:  # never hide the scenario's own error behind a stop error
                raise

    def start(self) -> Harness:
        """Start redis-server, the simulator, the receiver (if any) and every node."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.redis_server.start()
        plan, env = self.plan, dict(self.plan.env)
        env["TTAPI_API_KEYS"] = ",".join(plan.keys)
        hook_port = free_port()
        if plan.webhook:
            env["MJ_HOOK_BASE_URL"] = f"http://127.0.0.1:{hook_port}"
        self._stack = Stack(
            self.redis_server,
            self.workdir,
            keys=plan.sim_keys or plan.keys,
            capacity=plan.capacity,
            fast_s=plan.fast_s,
            nodes=0,
            env=env,
            sim=plan.sim,
        )
        # The caller's Celery client must talk to OUR redis-server (pytest sets another REDIS_URL).
        assert self.stack.app.conf.broker_url == parse_redis_url(self.redis_server.url).celery_url()
        if plan.tls_proxy is not None:
            self.proxy = TLSProxy(self.stack.sim.url, self.workdir, **plan.tls_proxy).start()
            self.stack.env["TTAPI_BASE_URL"] = self.proxy.url
            self.stack.env["REQUESTS_CA_BUNDLE"] = str(self.proxy.ca_path)
        if plan.webhook:
            self.receiver = WebhookReceiver(hook_port, self.stack.env, self.workdir / "webhook.log")
            self.receiver.start()
        for i in range(plan.nodes):
            self.start_node(i, wait=False)
        for node in self.nodes:
            node.wait_ready()
        return self

    @property
    def single(self) -> RedisServer:
        """The one redis-server of a plan without replicas."""
        if not isinstance(self.redis_server, RedisServer):
            raise TypeError("this scenario's Redis is a Sentinel set")
        return self.redis_server

    @property
    def replicated(self) -> SentinelSet:
        """The master, replicas and sentinels of a plan with replicas."""
        if not isinstance(self.redis_server, SentinelSet):
            raise TypeError("this scenario's Redis is one redis-server")
        return self.redis_server

    def stop(self) -> None:
        """Stop nodes, receiver, simulator and redis-server; each is tried even if one fails."""
        steps: list[Callable[[], None]] = [n.stop for n in self.nodes]
        if self.receiver is not None:
            steps += [self.receiver.stop]
        if self.proxy is not None:
            steps += [self.proxy.stop]
        if self._stack is not None:
            steps += [self._stack.sim.stop, self._stack.app.close]
        steps += [self.redis_server.stop]
        errors = []
        for step in steps:
            try:
                step()
            except Exception as exc:  # keep stopping the rest
                errors.append(exc)
        if errors:
            raise errors[0]

    def start_node(
        self,
        i: int,
        extra_env: dict[str, str] | None = None,
        *,
        wait: bool = True,
        beat: bool | None = None,
    ) -> CeleryProcess:
        """Start (or restart, after `stop_node`) node `i`; node 0 also runs beat (any node
        with `beat=True`: two beats, two pumps overlapping)."""
        args = [
            "worker",
            "-n",
            f"node{i}@%h",
            "-c",
            str(self.plan.concurrency),
            "-l",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        if beat or (beat is None and i == 0):
            args += ["-B", "-s", str(self.workdir / f"celerybeat-schedule-{i}")]
        env = {**self.stack.env, **self.plan.node_env.get(i, {}), **(extra_env or {})}
        self._generation += 1
        node = CeleryProcess(env, self.workdir / f"node{i}.{self._generation}.log", args=args)
        if i < len(self.nodes):
            self.nodes[i].stop()  # never two processes for one node
            self.nodes[i] = node
        else:
            self.nodes.append(node)
        node.start()
        if wait:
            node.wait_ready()
        return node

    def kill_node(self, i: int) -> None:
        """SIGKILL node `i` with its pool children (its process group) and reap it."""
        self.nodes[i].kill(signal.SIGKILL)
        self.nodes[i].stop()

    def restart_all(self, extra_env: dict[str, str] | None = None) -> None:
        """Stop every node (warm), then start them all again with `extra_env`."""
        for node in self.nodes:
            node.stop()
        for i in range(len(self.nodes)):
            self.start_node(i, extra_env, wait=False)
        for node in self.nodes:
            node.wait_ready()

    def send(
        self,
        n: int,
        label: str,
        *,
        copies: int = 1,
        account: str | None = None,
        **options: Any,
    ) -> list[Sent]:
        """Send `n` imagines by task name, each with its own prompt (to count double submits);
        with `copies` > 1 each message is published that many times with the same task id;
        with `account`, pinned to that account."""
        sent = []
        pin = {"account": account} if account else {}
        for i in range(n):
            prompt = f"{label} {self.tag} lighthouse {i}"
            task_id = str(uuid.uuid4())
            for _ in range(copies):
                result = self.stack.app.send_task(
                    "mj.imagine", kwargs={"prompt": prompt, **pin}, task_id=task_id, **options
                )
            sent.append(Sent(prompt, result))
        return sent

    def wait(
        self, sent: list[Sent], timeout: float, ended: dict[str, float] | None = None
    ) -> list[Outcome]:
        """Wait (bounded) until every job is ready; the ones that are not are HUNG. `ended`
        gets, per task id, when its caller saw it ready (monotonic, within 0.1 s)."""
        deadline = time.monotonic() + timeout
        pending = {s.result.id for s in sent}
        while pending and time.monotonic() < deadline:
            for s in sent:
                if s.result.id in pending and _ready(s.result):
                    pending.discard(s.result.id)
                    if ended is not None:
                        ended[s.result.id] = time.monotonic()
            time.sleep(0.1)
        return [self._outcome(s, s.result.id not in pending) for s in sent]

    def results_per_task(self, sent: list[Sent]) -> Counter[int]:
        """How many times each task's result was produced (the nodes' logs, every life)."""
        logs = self.log_text()
        return Counter(logs.count(f"[{s.result.id}] succeeded") for s in sent)

    def _outcome(self, s: Sent, ready: bool) -> Outcome:
        r = s.result
        if not ready:
            try:
                record = self.redis.hget(KEYS.job(r.id), "state")
            except Exception:
                record = "?"
            return Outcome(s.prompt, r.id, "HUNG", record_state=str(record or ""))
        value = r.result
        if r.state == "SUCCESS":
            return Outcome(
                s.prompt, r.id, "SUCCESS", value=value if isinstance(value, dict) else {}
            )
        message = str(value) if value is not None else ""
        if isinstance(value, BaseException) and not message.strip():
            message = ""
        return Outcome(s.prompt, r.id, r.state, message=message)

    def wait_until(self, check: Callable[[], bool], timeout: float) -> bool:
        """Poll `check` until true or `timeout`; False when it never became true."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if check():
                    return True
            except Exception:  # e.g. Redis restarting: look again
                pass
            time.sleep(0.1)
        return False

    def received(self, i: int) -> int:
        """Task messages node `i` took in its current life (its log says so at INFO)."""
        path = self.nodes[i].log_path
        return path.read_text(errors="replace").count("] received") if path.exists() else 0

    def log_text(self) -> str:
        """Every node log of every life, concatenated."""
        return "".join(p.read_text(errors="replace") for p in self.workdir.glob("node*.log"))

    def logs(self, lines: int = 30) -> str:
        """The tails of the current nodes' logs, for failure messages."""
        return "\n".join(f"--- {n.log_path.name}\n{n.tail(lines)}" for n in self.nodes)


def _ready(result: AsyncResult) -> bool:
    try:
        return bool(result.ready())
    except Exception:  # the backend is restarting: ask again on the next round
        return False
