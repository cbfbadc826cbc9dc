"""How many `POST /v1/jobs` one `mjw web` process takes per second, validation and
Idempotency-Key on, and the p99 of its answers: `python -m tests.bench.api_posts [SECONDS]`.

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
from pathlib import Path

import requests

from tests.support.web import running_web
from worker.devtools.embedded import RedisServer, free_port

CLIENTS = 16


def main(seconds: float = 15.0) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        redis = RedisServer(Path(tmp), free_port()).start()
        try:
            env = {"REDIS_URL": redis.url, "TTAPI_API_KEY": "sk-bench-api-0001"}
            with running_web(env) as web:
                latencies: list[float] = []
                codes: dict[int, int] = {}
                lock = threading.Lock()
                stop = time.monotonic() + seconds

                def client() -> None:
                    session = requests.Session()
                    body = {"kind": "imagine", "prompt": "a paper boat", "then": ["upsample2"]}
                    while time.monotonic() < stop:
                        headers = {**web.bearer, "Idempotency-Key": str(uuid.uuid4())}
                        started = time.perf_counter()
                        reply = session.post(f"{web.url}/v1/jobs", json=body, headers=headers)
                        took = time.perf_counter() - started
                        with lock:
                            latencies.append(took)
                            codes[reply.status_code] = codes.get(reply.status_code, 0) + 1

                threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
                begun = time.monotonic()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                elapsed = time.monotonic() - begun
        finally:
            redis.stop()
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    print(
        f"{len(latencies) / elapsed:.0f} POST/s over {elapsed:.0f} s, {CLIENTS} clients; "
        f"p50 {p50:.0f} ms, p99 {p99:.0f} ms; answers {codes}"
    )


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 15.0)
