"""The HTTP API in fault rows: `mjw web` as a subprocess over the row's stack (stopped, or
SIGKILLed, by its own pid), a token, and a client that tells what each POST was answered."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests

from tests.faults.row import Outcome
from worker.devtools.embedded import PACKAGE_ROOT

TENANT = "faults"
_LISTENING = re.compile(r"on (http://\S+/)hook")


class ApiProcess:
    """`mjw web` (or `module`'s variant of it) with the workers' environment."""

    def __init__(self, env: dict[str, str], log_path: Path, module: str = "worker.cli") -> None:
        self.env, self.log_path, self.module = env, log_path, module
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self._log: IO[str] | None = None

    def start(self, timeout: float = 60.0) -> ApiProcess:
        """Start it on free loopback ports; returns once it said where it listens."""
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        argv = ["web", "--host", "127.0.0.1", "--port", "0", "--admin", "127.0.0.1:0"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module, *argv],
            cwd=PACKAGE_ROOT,
            env={**os.environ, **self.env},
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            found = _LISTENING.search(self.proc.stdout.readline())
            if found:
                self.url = found.group(1).rstrip("/")
                return self
        raise RuntimeError(f"mjw web did not start; see {self.log_path}")

    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL it (no cleanup of any kind runs) and reap it."""
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM (then SIGKILL if it lingers) the process we started; close its log."""
        if self.alive():
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        if self._log is not None:
            self._log.close()


@dataclass
class Answer:
    """What one POST got: its status (None: no answer at all), its body and headers."""

    status: int | None
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    error: str = ""
    started: float = 0.0
    ended: float = 0.0

    @property
    def clear_503(self) -> bool:
        """A 503 problem that says when to come back."""
        return (
            self.status == 503
            and self.headers.get("content-type") == "application/problem+json"
            and bool(self.headers.get("retry-after"))
            and bool(self.body.get("detail"))
        )


def post_job(
    url: str, token: str, body: dict[str, Any], key: str | None = None, timeout: float = 60
) -> Answer:
    """POST /v1/jobs once; a connection that breaks is an Answer without a status."""
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    started = time.monotonic()
    try:
        reply = requests.post(f"{url}/v1/jobs", json=body, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        return Answer(None, error=type(exc).__name__, started=started, ended=time.monotonic())
    try:
        doc = reply.json()
    except ValueError:
        doc = {"raw": reply.text[:200]}
    return Answer(reply.status_code, doc, dict(reply.headers), "", started, time.monotonic())


def wait_jobs(url: str, token: str, jobs: dict[str, str], timeout: float) -> list[Outcome]:
    """Follow each job (prompt → job id) through the API until it ends (HUNG if it does not)."""
    headers = {"Authorization": f"Bearer {token}"}
    ended = {"succeeded": "SUCCESS", "failed": "FAILURE", "canceled": "REVOKED"}
    seen: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(seen) < len(jobs) and time.monotonic() < deadline:
        for prompt, job_id in jobs.items():
            if prompt in seen:
                continue
            try:
                job = requests.get(f"{url}/v1/jobs/{job_id}", headers=headers, timeout=15).json()
            except (requests.RequestException, ValueError):
                continue
            if job.get("status") in ended:
                seen[prompt] = job
        time.sleep(0.2)
    outcomes = []
    for prompt, job_id in jobs.items():
        job = seen.get(prompt)
        if job is None:
            outcomes.append(Outcome(prompt, job_id, "HUNG"))
        else:
            state = ended[job["status"]]
            value = job.get("result") or {}
            outcomes.append(Outcome(prompt, job_id, state, job.get("error") or "", value))
    return outcomes


def listed(url: str, token: str) -> list[str]:
    """The ids of the tenant's jobs (the first page of 100: enough for a row)."""
    reply = requests.get(
        f"{url}/v1/jobs",
        params={"limit": 100},
        headers={"Authorization": f"Bearer {token}"},
        timeout=15,
    )
    return [j["id"] for j in reply.json()["items"]]
