"""The webhook receiver (`python -m worker.cli webhook`) as a subprocess on a loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from worker.devtools.embedded import PACKAGE_ROOT


class WebhookReceiver:
    """`mjw webhook` with the workers' environment; `stop()` ends it by its pid."""

    def __init__(self, port: int, env: dict[str, str], log_path: Path) -> None:
        self.port, self.env, self.log_path = port, env, log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, timeout: float = 30.0) -> WebhookReceiver:
        """Start it and wait until its port accepts connections."""
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        command = [sys.executable, "-m", "worker.cli", "webhook", "--host", "127.0.0.1",
                   "--port", str(self.port)]  # fmt: skip
        self.proc = subprocess.Popen(
            command, cwd=PACKAGE_ROOT, env={**os.environ, **self.env}, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError(f"webhook receiver did not start; see {self.log_path}")

    def stop(self) -> None:
        """SIGTERM (then SIGKILL if it lingers) the process we started; close its log."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()
