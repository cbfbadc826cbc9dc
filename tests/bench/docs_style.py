"""The baseline: the Celery app a user would write from TTAPI's docs, nothing more.

One task, `docs.imagine(prompt, key_index)`: submit the prompt, then `time.sleep(poll)` and
fetch until the job is finished. Any TTAPI or HTTP error (a 499 "queue full" above all) makes
Celery retry the whole task with exponential back-off and jitter. There is no slot guard, so
whenever the worker runs more tasks than the account has free places, TTAPI answers 499; the
benchmark counts those.

Run as a real worker, e.g. `celery -A tests.bench.docs_style worker -c 10`, configured only by
the environment: REDIS_URL (broker and results), TTAPI_API_KEYS (comma-separated; the sender
picks one by `key_index`), TTAPI_BASE_URL and DOCS_POLL_S (sleep between fetches, default 0.5).
"""

from __future__ import annotations

import os
import time
from typing import Any

import requests
from celery import Celery

from config.settings import Account
from worker.ttapi.client import TTAPIClient
from worker.ttapi.errors import TTAPIError

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

app = Celery("docs_style", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    broker_connection_retry_on_startup=True,
)


def poll_s() -> float:
    """Seconds to sleep between two fetches of one job."""
    return float(os.environ.get("DOCS_POLL_S", "0.5"))


def client_for(key_index: int) -> TTAPIClient:
    """A TTAPI client for the `key_index`-th configured key (wrapping around)."""
    keys = [k for k in os.environ.get("TTAPI_API_KEYS", "").split(",") if k]
    if not keys:
        raise RuntimeError("TTAPI_API_KEYS is empty")
    base = os.environ.get("TTAPI_BASE_URL", "https://api.ttapi.io")
    return TTAPIClient(Account.from_key(keys[key_index % len(keys)]), base)


@app.task(
    name="docs.imagine",
    autoretry_for=(TTAPIError, requests.RequestException),
    retry_backoff=True,
    retry_backoff_max=30,
    retry_jitter=True,
    max_retries=20,
)
def imagine(prompt: str, key_index: int = 0) -> dict[str, Any]:
    """Submit `prompt`, sleep-poll until TTAPI says it is finished; the final status."""
    client = client_for(key_index)
    try:
        job_id = client.imagine(prompt).job_id
        while True:
            time.sleep(poll_s())
            info = client.fetch(job_id)
            if info.finished:
                return {"status": info.status, "job_id": job_id}
    finally:
        client.close()
