"""`mjw web` as a subprocess over a test stack, with a token: what the API's e2e and property
tests talk to."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Web:
    """A running `mjw web`: its public URL, a token of tenant `web`, its webhook secret."""

    url: str
    token: str
    webhook_secret: str

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@contextmanager
def running_web(env: dict[str, str]) -> Iterator[Web]:
    """Start `mjw web` on free ports with `env` (the stack's), make a token, stop it after."""
    env = {**os.environ, **env, "PYTHONPATH": str(ROOT), "MJ_CALLBACK_ALLOW_PRIVATE": "1"}
    made = subprocess.run(
        [sys.executable, "-m", "worker.cli", "tokens", "create", "web", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    doc = json.loads(made.stdout)
    argv = ["web", "--host", "127.0.0.1", "--port", "0", "--admin", "127.0.0.1:0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        found = re.search(r"on (http://\S+/)hook", proc.stdout.readline())
        assert found, "mjw web did not start"
        yield Web(found.group(1).rstrip("/"), doc["token"], doc["webhook_secret"])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
