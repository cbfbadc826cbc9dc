"""`Simulator`: the public handle that runs the fake TTAPI in background threads."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

from worker.devtools.simulator.config import SimConfig
from worker.devtools.simulator.control import build_stats
from worker.devtools.simulator.engine import Engine
from worker.devtools.simulator.hooks import Scheduler
from worker.devtools.simulator.server import SimServer


class Simulator:
    """A local TTAPI: `start()` serves on `url`, `stop()` joins every thread it started."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self._scheduler = Scheduler()
        self._engine = Engine(config, self._scheduler)
        self._server: SimServer | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    def start(self) -> Simulator:
        """Bind (port 0 picks a free port), serve in a daemon thread; returns self."""
        if self._server is not None:
            raise RuntimeError("simulator already started")
        server = SimServer((self.config.host, self.config.port), self._engine)
        host, port = server.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else str(host)
        self._url = f"http://{shown}:{port}"
        with self._engine.lock:
            self._engine.base_url = self._url
            self._engine.t0 = time.monotonic()
        self._scheduler.start()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="ttapi-simulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server and the hook scheduler down and join their threads."""
        server, thread = self._server, self._thread
        if server is not None and thread is not None and thread.is_alive():
            server.shutdown()
            server.server_close()
            server.close_connections()
            thread.join()
        self._scheduler.stop()

    @property
    def url(self) -> str:
        """Base URL to use as TTAPI's, e.g. `http://127.0.0.1:54321`."""
        if self._url is None:
            raise RuntimeError("simulator not started")
        return self._url

    def stats(self) -> dict[str, Any]:
        """The same document as `GET /_sim/stats`."""
        with self._engine.lock:
            return build_stats(self._engine)

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """Change Faults fields at runtime (ValueError names a bad one); returns all faults."""
        with self._engine.lock:
            return self._engine.set_faults(**changes)

    def set_account(
        self,
        key: str,
        balance: float | None = None,
        capacity: int | None = None,
        other_client: int | None = None,
    ) -> dict[str, Any]:
        """Change (or add) the account of `key`; returns its public view (label, no key)."""
        with self._engine.lock:
            return self._engine.set_account(key, balance, capacity, other_client)

    def rotate_key(self, old: str, new: str, *, keep_old: bool = False) -> None:
        """The account of `old` gets the key `new`; `old` stops working unless `keep_old`."""
        with self._engine.lock:
            self._engine.rotate_key(old, new, keep_old=keep_old)

    def finish_stuck(self) -> int:
        """End every stuck job now with SUCCESS (hooks fire); returns how many there were."""
        with self._engine.lock:
            return self._engine.finish_stuck()

    def reset_stats(self) -> None:
        """Zero the counters, as `POST /_sim/reset-stats` does."""
        with self._engine.lock:
            self._engine.reset_stats()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Simulator(url={self._url!r}, accounts={len(self.config.keys)})"
