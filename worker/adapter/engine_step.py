"""The Celery worker bootstep that runs the node's engine: `celery -A worker worker` starts it.

The engine runs in a process of its own (`python -m worker.adapter.engine_process`), started
by the worker's main process once the pool is up, and stopped with the worker: apart from the
pool, so that `-c`, `--pool` and what the pool's processes do change nothing for it, and so
that no thread runs in the prefork parent (nothing thread-related crosses a fork). A node that
does not consume `MJ_CONTROL_QUEUE` (`-Q celery`) runs no engine: its processes take jobs in
and report them, the control nodes' engines drive them. An engine that dies is started again
within a few seconds; meanwhile (and if its node dies) other nodes take its accounts over
within one lease. `MJ_ENGINE=off` runs a worker without one (tests that need none).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from typing import Any

from celery import bootsteps

from worker.policy import ENGINE_CHECK_S, ENGINE_STOP_WAIT_S

log = logging.getLogger(__name__)
ENGINE_MODULE = "worker.adapter.engine_process"  # the engine process: `python -m` this


class EngineStep(bootsteps.StartStopStep):
    """Starts, watches and stops the engine process of one worker node."""

    requires = ("celery.worker.components:Timer", "celery.worker.components:Pool")

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.proc: subprocess.Popen[bytes] | None = None
        self.tref: Any = None
        self.stopping = False
        self.started_at = 0.0

    def start(self, parent: Any) -> None:
        """Start the engine (unless this node takes no control work) and watch it."""
        app = parent.app
        control = app.mj_settings.mj_control_queue
        consumed = app.amqp.queues.consume_from or app.amqp.queues
        if os.environ.get("MJ_ENGINE", "on").lower() == "off" or control not in consumed:
            log.info("engine: not started on %s (consumes %s)", parent.hostname, sorted(consumed))
            return
        self._spawn(parent)
        self.tref = parent.timer.call_repeatedly(ENGINE_CHECK_S, self._check, (parent,))

    def _spawn(self, parent: Any) -> None:
        cmd = [sys.executable, "-m", ENGINE_MODULE, "--node", str(parent.hostname)]
        self.proc = subprocess.Popen(cmd, env=dict(os.environ))
        self.started_at = time.monotonic()
        log.info("engine: started for %s (pid %s)", parent.hostname, self.proc.pid)

    def _check(self, parent: Any) -> None:
        """Start the engine again if it died (it leaves its accounts to the others meanwhile)."""
        if self.stopping or self.proc is None or self.proc.poll() is None:
            return
        log.error("engine: exited with %s; starting it again", self.proc.returncode)
        self._spawn(parent)

    def stop(self, parent: Any) -> None:
        """Stop the engine cleanly (it gives its accounts back), killing it if it hangs."""
        self.stopping = True
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(ENGINE_STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def shutdown(self, parent: Any) -> None:
        """Same as stop (the worker shuts down)."""
        self.stop(parent)


__all__ = ["EngineStep"]
