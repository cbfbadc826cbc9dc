"""A real replicated Redis on loopback: a master, its replicas and three sentinels.

Every process is the same `redis-server` binary the other tests use (replicas with
`--replicaof`, sentinels with `--sentinel` and a config file of their own, which they rewrite),
each on a free port, started and stopped by pid. Failover is fast (`down_after_ms`) so a test
sees a replica promoted within a few seconds of the master's death.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis

from worker.devtools.embedded import free_port, redis_server_binary

MASTER_NAME = "mymaster"
QUORUM = 2


class Node:
    """One redis-server of the set (a data node, or a sentinel), restartable on its port."""

    def __init__(self, args: list[str], port: int, workdir: Path, password: str | None) -> None:
        self.args, self.port, self.workdir, self.password = args, port, workdir, password
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Node:
        """Start (again) and wait until it answers PING."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.workdir / "server.log", "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            [redis_server_binary(), *self.args], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        client = self.client(timeout=1.0)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return self
            except (redis.ConnectionError, redis.TimeoutError):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server on {self.port} did not start") from None
                time.sleep(0.02)
            finally:
                client.close()

    def client(self, timeout: float = 2.0) -> redis.Redis:
        """A plain client of this node (str replies)."""
        return redis.Redis(
            "127.0.0.1",
            self.port,
            password=self.password,
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )

    def alive(self) -> bool:
        """Whether the process we started still runs."""
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL (a crash) and reap."""
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGCONT)  # a paused node must die too
            self.proc.kill()
            self.proc.wait()

    def pause(self) -> None:
        """SIGSTOP: the node stops answering (and acknowledging) without closing a socket."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after `pause`."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Terminate by pid (SIGKILL if it lingers) and reap."""
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class SentinelSet:
    """A master, `replicas` replicas and three sentinels; `url` is the `sentinel://` REDIS_URL.

    `password` protects the data nodes (it goes into the URL), `sentinel_password` the
    sentinels (`MJ_REDIS_SENTINEL_PASSWORD`). `env()` is what a worker needs to follow the
    master. `stop()` ends every process this set started, also after a failure half-way.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        replicas: int = 2,
        sentinels: int = 3,
        db: int = 0,
        password: str | None = None,
        sentinel_password: str | None = None,
        down_after_ms: int = 1000,
        appendonly: bool = True,
    ) -> None:
        self.workdir, self.db = workdir, db
        self.password, self.sentinel_password = password, sentinel_password
        self.down_after_ms = down_after_ms
        self.data: list[Node] = []
        for i in range(1 + replicas):
            port = free_port()
            args = self._data_args(port, workdir / f"data{i}", appendonly)
            self.data.append(Node(args, port, workdir / f"data{i}", password))
        for replica in self.data[1:]:
            replica.args += ["--replicaof", "127.0.0.1", str(self.data[0].port)]
        self.sentinels = [self._sentinel(i) for i in range(sentinels)]

    # -- set-up ------------------------------------------------------------------------------
    def _data_args(self, port: int, folder: Path, appendonly: bool) -> list[str]:
        args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", ""]
        args += ["--appendonly", "yes" if appendonly else "no", "--appendfsync", "everysec"]
        args += ["--maxmemory-policy", "noeviction", "--auto-aof-rewrite-percentage", "0"]
        args += ["--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"]
        if self.password:
            args += ["--requirepass", self.password, "--masterauth", self.password]
        return args

    def _sentinel(self, i: int) -> Node:
        port = free_port()
        folder = self.workdir / f"sentinel{i}"
        folder.mkdir(parents=True, exist_ok=True)
        name = MASTER_NAME
        lines = [
            f"port {port}",
            "bind 127.0.0.1",
            f"dir {folder}",
            f"sentinel monitor {name} 127.0.0.1 {self.data[0].port} {QUORUM}",
            f"sentinel down-after-milliseconds {name} {self.down_after_ms}",
            f"sentinel failover-timeout {name} {max(2000, 3 * self.down_after_ms)}",
            f"sentinel parallel-syncs {name} 2",
        ]
        if self.password:
            lines.append(f"sentinel auth-pass {name} {self.password}")
        if self.sentinel_password:
            lines += [
                f"requirepass {self.sentinel_password}",
                f"sentinel sentinel-pass {self.sentinel_password}",
            ]
        conf = folder / "sentinel.conf"
        conf.write_text("\n".join(lines) + "\n")
        return Node([str(conf), "--sentinel"], port, folder, self.sentinel_password)

    @property
    def url(self) -> str:
        """REDIS_URL for this set: every sentinel, the password on the first, the db last."""
        auth = f":{self.password}@" if self.password else ""
        chunks = [
            f"sentinel://{auth if i == 0 else ''}127.0.0.1:{s.port}"
            for i, s in enumerate(self.sentinels)
        ]
        return ";".join(chunks) + f"/{self.db}"

    def env(self) -> dict[str, str]:
        """The variables a worker needs to follow this set's master."""
        env = {"REDIS_URL": self.url, "MJ_REDIS_SENTINEL_MASTER": MASTER_NAME}
        if self.sentinel_password:
            env["MJ_REDIS_SENTINEL_PASSWORD"] = self.sentinel_password
        return env

    def start(self) -> SentinelSet:
        """Start the data nodes, wait for the replicas to sync, then the sentinels, and wait
        until every sentinel sees the master, its replicas and the other sentinels."""
        try:
            for node in self.data:
                node.start()
            self.wait(lambda: self._synced(self.data[0]), 20, "replicas in sync")
            for sentinel in self.sentinels:
                sentinel.start()
            self.wait(self._sentinels_ready, 30, "sentinels see each other")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every process of the set (sentinels first: no failover while we stop)."""
        for node in [*self.sentinels, *self.data]:
            node.stop()

    # -- looking at it -----------------------------------------------------------------------
    def master(self) -> Node:
        """The data node the sentinels name as master now."""
        _, port = self.master_address()
        return next(n for n in self.data if n.port == port)

    def master_address(self) -> tuple[str, int]:
        """(host, port) of the master, as the first sentinel that answers says."""
        for sentinel in self.sentinels:
            if not sentinel.alive():
                continue
            try:
                host, port = sentinel.client().sentinel_get_master_addr_by_name(MASTER_NAME)
                return str(host), int(port)
            except (redis.RedisError, TypeError):
                continue
        raise RuntimeError("no sentinel names a master")

    def role(self, node: Node) -> str:
        """`master` or `slave`, as the node itself says ('' when it does not answer)."""
        try:
            return str(node.client(timeout=1.0).info("replication")["role"])
        except redis.RedisError:
            return ""

    def replica_of(self, node: Node, master: Node) -> bool:
        """Whether `node` replicates `master` with its link up."""
        try:
            info = node.client(timeout=1.0).info("replication")
        except redis.RedisError:
            return False
        return (
            info.get("role") == "slave"
            and int(info.get("master_port", 0)) == master.port
            and info.get("master_link_status") == "up"
        )

    def _synced(self, master: Node) -> bool:
        replicas = [n for n in self.data if n is not master and n.alive()]
        return all(self.replica_of(n, master) for n in replicas)

    def _sentinels_ready(self) -> bool:
        want_replicas = len(self.data) - 1
        for sentinel in self.sentinels:
            state = sentinel.client().sentinel_master(MASTER_NAME)
            if int(state["num-other-sentinels"]) < len(self.sentinels) - 1:
                return False
            if int(state["num-slaves"]) < want_replicas:
                return False
        return True

    @staticmethod
    def wait(check: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll `check` (a condition on servers) until true; RuntimeError naming `what`."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if check():
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
            time.sleep(0.05)

    def wait_promoted(self, old: Node, timeout: float = 30) -> Node:
        """Wait until the sentinels name another master than `old` and it says it is one."""

        def promoted() -> bool:
            now = self.master()
            return now is not old and self.role(now) == "master"

        self.wait(promoted, timeout, "a replica promoted")
        return self.master()
