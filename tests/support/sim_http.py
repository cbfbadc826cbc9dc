"""Helpers shared by the simulator tests: a raw-HTTP TTAPI caller and a callback receiver."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

V1 = "/midjourney/v1/"


class Api:
    """Plain `requests` calls against one simulator with one key (no project client)."""

    def __init__(self, url: str, key: str | None) -> None:
        self.url = url
        self.key = key
        self.session = requests.Session()

    def _headers(self) -> dict[str, str]:
        return {"TT-API-KEY": self.key} if self.key is not None else {}

    def post(self, endpoint: str, body: Any) -> requests.Response:
        """POST JSON to a TTAPI endpoint."""
        return self.session.post(
            self.url + V1 + endpoint, json=body, headers=self._headers(), timeout=10
        )

    def get(self, endpoint: str, **params: Any) -> requests.Response:
        """GET a TTAPI endpoint."""
        return self.session.get(
            self.url + V1 + endpoint, params=params, headers=self._headers(), timeout=10
        )

    def imagine(self, prompt: str, **extra: Any) -> str:
        """Submit an imagine that must be accepted; returns its job id."""
        reply = self.post("imagine", {"prompt": prompt, **extra})
        assert reply.status_code == 200, reply.text
        return str(reply.json()["data"]["jobId"])

    def fetch(self, job_id: str) -> dict[str, Any]:
        """The fetch body of a job (must be HTTP 200)."""
        reply = self.get("fetch", jobId=job_id)
        assert reply.status_code == 200, reply.text
        body: dict[str, Any] = reply.json()
        return body

    def wait(
        self, job_id: str, *, until: tuple[str, ...] = ("SUCCESS", "FAILED"), timeout: float = 10.0
    ) -> dict[str, Any]:
        """Poll until the job reaches one of `until`; returns that fetch body."""
        deadline = time.monotonic() + timeout
        while True:
            body = self.fetch(job_id)
            if body["status"] in until or time.monotonic() > deadline:
                return body
            time.sleep(0.02)


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Whether `check()` becomes true within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


class Receiver:
    """A tiny callback receiver answering from a list of status codes (last one repeats)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.calls: list[tuple[float, dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.calls.append((time.monotonic(), body))
                index = min(len(receiver.calls) - 1, len(receiver.statuses) - 1)
                self.send_response(receiver.statuses[index])
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
