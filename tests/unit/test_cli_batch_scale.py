"""A 10,000-row batch costs O(1) Redis commands per tick (real redis-server, INFO commandstats).

Results are stored directly in the result backend (no TTAPI, no workers); the batch's journal
says every row was sent, so `run_batch` only re-attaches and watches. Run with `-s` to see the
figures (CPU seconds and Redis commands).
"""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from rich.console import Console

from tests.support.stack import client_app
from worker.cli.batch import BadRow, Row
from worker.cli.batch_journal import Journal
from worker.cli.batch_run import Flight, Summary, _tick, run_batch
from worker.cli.results import ResultReader
from worker.devtools.embedded import RedisServer

ROWS = 10_000
ACTIONS = ["upsample2", "upscale_creative"]


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of this module's own: `INFO commandstats` counts every client's commands,
    so no other test's leftovers (a worker's restored messages, a late tick) may share it."""
    server = RedisServer(tmp_path_factory.mktemp("redis-batch-scale")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def app(redis_server: RedisServer) -> Iterator[Celery]:
    app = client_app(redis_server.url)
    yield app
    app.close()


def commands(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}


def spent(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {
        k: n - before.get(k, 0) for k, n in after.items() if k != "info" and n != before.get(k, 0)
    }


def job(task_id: str, action: str, prompt: str) -> dict[str, Any]:
    return {
        "job_id": str(uuid.uuid4()),
        "action": action,
        "status": "SUCCESS",
        "prompt": prompt,
        "image_url": f"https://cdn.example/{task_id}.png",
        "discord_image": None,
        "images": [f"https://cdn.example/{task_id}-{i}.png" for i in range(4)],
        "components": ["upsample1", "upsample2", "variation1", "reroll"],
        "seed": None,
        "width": 1024,
        "height": 1024,
        "account": "acct-0123abcd",
        "parent_job_id": None,
        "submitted_at": "2025-01-01T00:00:00+00:00",
        "finished_at": "2025-01-01T00:01:00+00:00",
    }


def sent_batch(app: Celery, out: Path, *, store: bool) -> list[Row | BadRow]:
    """ROWS rows of 3 steps, journaled as sent; with `store`, every step's SUCCESS stored."""
    rows: list[Row | BadRow] = []
    journal, pipe = [], app.backend.client.pipeline(transaction=False)
    done = datetime.now(UTC).isoformat()
    for line in range(1, ROWS + 1):
        prompt = f"a lighthouse, study {line}"
        rows.append(Row(line, prompt, list(ACTIONS)))
        ids = [str(uuid.uuid4()) for _ in range(3)]
        tasks = [
            {"task": "mj.imagine", "kwargs": {"prompt": prompt}},
            *({"task": "mj.action", "kwargs": {"action": a}} for a in ACTIONS),
        ]
        # The journal format written before row keys: both the old and the new code read it.
        journal.append(
            {
                "line": line,
                "final": ids[-1],
                "ids": ids,
                "sig": {"task": "celery.chain", "kwargs": {"tasks": tasks}},
            }
        )
        for task_id, action in zip(ids, ["imagine", *ACTIONS], strict=True) if store else []:
            meta = {
                "status": "SUCCESS",
                "result": job(task_id, action, prompt),
                "traceback": None,
                "children": [],
                "date_done": done,
                "task_id": task_id,
            }
            pipe.set(app.backend.get_key_for_task(task_id), app.backend.encode(meta))
    pipe.execute()
    out.with_name(out.name + ".journal").write_text(
        "".join(json.dumps(entry) + "\n" for entry in journal)
    )
    return rows


@pytest.mark.slow
def test_a_10000_row_batch_whose_results_are_stored_finishes_in_a_few_redis_commands(
    app: Celery, redis_server: RedisServer, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    rows = sent_batch(app, out, store=True)
    client = redis.Redis.from_url(redis_server.url)
    ticks: list[Summary] = []
    before, cpu, wall = commands(client), time.process_time(), time.perf_counter()
    summary = run_batch(
        app, rows, out, console=Console(file=io.StringIO()), tick=0.01, on_update=ticks.append
    )
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    used = spent(before, commands(client))
    print(
        f"\n{ROWS} rows, results stored: {len(ticks)} tick(s), Redis {used}, "
        f"CPU {cpu:.2f} s, wall {wall:.2f} s"
    )
    assert summary.done == ROWS
    assert sum(used.values()) <= 2 * len(ticks), used


def test_a_tick_over_10000_rows_in_flight_is_one_mget(
    app: Celery, redis_server: RedisServer, tmp_path: Path
) -> None:
    rows = [r for r in sent_batch(app, tmp_path / "out.jsonl", store=False) if isinstance(r, Row)]
    flying = {r.key: Flight(r, [str(uuid.uuid4()) for _ in range(3)], step=1) for r in rows}
    client = redis.Redis.from_url(redis_server.url)
    reader, summary = ResultReader(app.backend), Summary()
    reader.read(["warm-up"])  # the backend's connection is made outside the measurement
    before, cpu = commands(client), time.process_time()
    for _ in range(10):
        _tick(app, reader, flying, lambda sig: None, Journal(tmp_path / "out.jsonl"), summary)
    cpu = (time.process_time() - cpu) / 10
    used = spent(before, commands(client))
    print(
        f"\n{ROWS} rows in flight: per tick Redis "
        f"{ {k: n / 10 for k, n in used.items()} }, CPU {cpu * 1000:.1f} ms"
    )
    assert used == {"mget": 10}
    assert len(flying) == ROWS
