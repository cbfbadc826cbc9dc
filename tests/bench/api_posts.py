"""Scenario (i) of `make bench`: how many `POST /v1/jobs` one `mjw web` process takes per
second, validation and Idempotency-Key on, and the p99 of its answers. Alone:
`python -m tests.bench.api_posts [SECONDS]`.

An embedded redis-server, one `mjw web` subprocess, no worker (the jobs are published to the
queue and wait there: this measures the API process, not the engine), and client threads in
this process posting imagine → upsample2 with a fresh key each. The clients share the machine's
cores with the server, so the figure is a floor.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.web import running_web
from worker.devtools.embedded import RedisServer, free_port

KEY = "i"
TITLE = "POST /v1/jobs through one mjw web (validation, Idempotency-Key), 16 clients"
CLIENTS = 16
SECONDS, QUICK_SECONDS = 15.0, 5.0
BODY = {"kind": "imagine", "prompt": "a paper boat", "then": ["upsample2"]}


@dataclass(frozen=True)
class PostRate:
    """What the clients saw: answers per second over the run, latency percentiles, codes."""

    seconds: float
    clients: int
    posts: int
    per_s: float
    p50_ms: float
    p99_ms: float
    codes: dict[int, int]

    def line(self) -> str:
        """One line for the bench's output (and the README's "Scaling out")."""
        return (
            f"| ({KEY}) {TITLE} | {self.per_s:.0f} POST/s over {self.seconds:.0f} s | "
            f"p50 {self.p50_ms:.0f} ms | p99 {self.p99_ms:.0f} ms | answers {self.codes} |"
        )


def measure(seconds: float = SECONDS, clients: int = CLIENTS) -> PostRate:
    """Run the scenario: a redis-server and `mjw web` of its own, stopped afterwards."""
    with tempfile.TemporaryDirectory(prefix="mj-bench-api-") as tmp:
        redis = RedisServer(Path(tmp), free_port()).start()
        try:
            env = {"REDIS_URL": redis.url, "TTAPI_API_KEY": "sk-bench-api-0001"}
            with running_web(env) as web:
                latencies, codes, elapsed = _load(web.url, web.bearer, seconds, clients)
        finally:
            redis.stop()
    latencies.sort()
    return PostRate(
        seconds=elapsed,
        clients=clients,
        posts=len(latencies),
        per_s=len(latencies) / elapsed,
        p50_ms=latencies[len(latencies) // 2] * 1000,
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        codes=dict(codes),
    )


def _load(
    url: str, bearer: dict[str, str], seconds: float, clients: int
) -> tuple[list[float], Counter[int], float]:
    """`clients` threads posting for `seconds`: every answer's latency, the status codes."""
    latencies: list[float] = []
    codes: Counter[int] = Counter()
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client() -> None:
        session = requests.Session()
        while time.monotonic() < stop:
            headers = {**bearer, "Idempotency-Key": str(uuid.uuid4())}
            started = time.perf_counter()
            reply = session.post(f"{url}/v1/jobs", json=BODY, headers=headers, timeout=60)
            took = time.perf_counter() - started
            with lock:
                latencies.append(took)
                codes[reply.status_code] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    begun = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, codes, time.monotonic() - begun


if __name__ == "__main__":
    print(measure(float(sys.argv[1]) if len(sys.argv) > 1 else SECONDS).line())
