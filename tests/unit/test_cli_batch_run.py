"""`mjw batch` end to end in one process: a real redis-server as result backend, and fake workers
(a publisher that stores each step's outcome in the backend the way Celery does)."""

from __future__ import annotations

import io
import itertools
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from celery.canvas import Signature
from celery.exceptions import TaskRevokedError
from rich.console import Console

from tests.support.stack import client_app
from worker.cli.batch import Row, read_batch
from worker.cli.batch_journal import Journal
from worker.cli.batch_run import Summary, chain_ids, run_batch
from worker.devtools.embedded import RedisServer
from worker.ttapi.errors import JobFailed


@pytest.fixture
def app(redis_server: RedisServer) -> Iterator[Celery]:
    app = client_app(redis_server.url)
    yield app
    app.close()


def step_result(task_id: str, step: int) -> dict[str, Any]:
    return {
        "job_id": f"tt-{task_id[:8]}",
        "action": "imagine" if step == 0 else "upsample1",
        "status": "SUCCESS",
        "image_url": f"https://cdn.example/{task_id}.png",
    }


class FakeWorkers:
    """Publishes nothing: stores what workers would (every step's outcome, by the prompt)."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self.sent: list[list[str]] = []
        self.held: list[list[str]] = []

    def __call__(self, sig: Signature) -> None:
        ids = chain_ids(sig)
        self.sent.append(ids)
        first = (sig.tasks[0] if hasattr(sig, "tasks") else sig).kwargs["prompt"]
        store = self.app.backend.store_result
        if "fails" in first:  # Celery stores the failure on every later step of the chain too
            for task_id in ids:
                store(task_id, JobFailed("[Banned prompt detected] nope"), "FAILURE")
        elif "revoked" in first:  # a revoked step: the rest of the chain is never sent
            store(ids[0], TaskRevokedError("revoked"), "REVOKED")
        elif "slow" in first:
            self.held.append(ids)
        else:
            self.finish(ids)

    def finish(self, ids: list[str]) -> None:
        for n, task_id in enumerate(ids):
            self.app.backend.store_result(task_id, step_result(task_id, n), "SUCCESS")


def quiet() -> Console:
    return Console(file=io.StringIO(), width=120)


def run(app: Celery, path: Path, out: Path, workers: FakeWorkers, **options: Any) -> Summary:
    rows = read_batch(path, then=["upsample1"])
    return run_batch(app, rows, out, console=quiet(), tick=0.01, publish=workers, **options)


def latest(out: Path) -> dict[int, dict[str, Any]]:
    return {r["line"]: r for r in map(json.loads, out.read_text().splitlines())}


def test_retry_failed_resends_only_failed_rows_and_with_fresh_task_ids(
    app: Celery, tmp_path: Path
) -> None:
    batch, out = tmp_path / "batch.txt", tmp_path / "out.jsonl"
    batch.write_text("a cat\nit fails\na dog\n")
    workers = FakeWorkers(app)
    first = run(app, batch, out, workers)
    assert (first.done, first.failed) == (2, 1)
    failed_ids = latest(out)[2]["task_ids"]
    assert "JobFailed: [Banned prompt detected] nope" in latest(out)[2]["error"]

    batch.write_text("a cat\nit fails\na dog\n")
    retried: list[list[str]] = []

    def heal(sig: Signature) -> None:  # this time every step succeeds
        retried.append(chain_ids(sig))
        workers.finish(chain_ids(sig))

    second = run_batch(
        app,
        read_batch(batch, then=["upsample1"]),
        out,
        console=quiet(),
        tick=0.01,
        publish=heal,
        retry_failed=True,
    )
    assert (second.retried, second.done, second.failed, second.skipped) == (1, 1, 0, 2)
    [new_ids] = retried
    assert set(new_ids).isdisjoint(failed_ids)
    assert latest(out)[2]["status"] == "SUCCESS"

    third = run(app, batch, out, FakeWorkers(app), retry_failed=True)
    assert (third.skipped, third.retried, third.done) == (3, 0, 0)


def test_retry_failed_leaves_rows_in_flight_alone(app: Celery, tmp_path: Path) -> None:
    batch, out = tmp_path / "batch.txt", tmp_path / "out.jsonl"
    batch.write_text("a slow cat\n")
    workers = FakeWorkers(app)
    journal = Journal(out)
    [row] = read_batch(batch, then=["upsample1"])
    assert isinstance(row, Row)
    ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    journal.record_send(row, {"task": "mj.imagine", "kwargs": {"prompt": row.prompt}}, ids[-1], ids)
    app.backend.store_result(ids[0], {"account": "acct-1", "progress": 40}, "SUBMITTED")

    def finish_later(summary: Summary) -> None:
        workers.finish(ids)

    summary = run(app, batch, out, workers, retry_failed=True, on_update=finish_later)
    assert workers.sent == []  # neither re-sent nor retried: it was running
    assert (summary.reattached, summary.done) == (1, 1)
    assert latest(out)[1]["task_id"] == ids[-1]


def test_an_edited_line_is_sent_as_a_new_row_and_not_paired_with_old_results(
    app: Celery, tmp_path: Path
) -> None:
    batch, out = tmp_path / "batch.txt", tmp_path / "out.jsonl"
    batch.write_text("a cat\na dog\n")
    workers = FakeWorkers(app)
    run(app, batch, out, workers)
    batch.write_text("a cat\na wolf\n")
    summary = run(app, batch, out, workers)
    assert (summary.skipped, summary.done) == (1, 1)
    assert len(workers.sent) == 3
    assert latest(out)[2]["prompt"] == "a wolf"


def test_a_reattached_row_whose_first_step_is_unknown_is_sent_again_with_the_same_ids(
    app: Celery, tmp_path: Path
) -> None:
    batch, out = tmp_path / "batch.txt", tmp_path / "out.jsonl"
    batch.write_text("a cat\n")
    [row] = read_batch(batch, then=[])
    assert isinstance(row, Row)
    task_id = str(uuid.uuid4())
    sig = app.signature("mj.imagine", kwargs={"prompt": "a cat"}, task_id=task_id)
    Journal(out).record_send(row, dict(sig), task_id, [task_id])
    workers = FakeWorkers(app)
    summary = run_batch(app, [row], out, console=quiet(), tick=0.01, publish=workers)
    assert workers.sent == [[task_id]]
    assert (summary.reattached, summary.done) == (1, 1)


@pytest.mark.timeout(30)
def test_a_chain_whose_first_step_was_revoked_ends_its_row_as_failed(
    app: Celery, tmp_path: Path
) -> None:
    batch, out = tmp_path / "batch.txt", tmp_path / "out.jsonl"
    batch.write_text("a revoked cat\n")
    summary = run(app, batch, out, FakeWorkers(app))
    assert (summary.done, summary.failed) == (0, 1)
    assert latest(out)[1]["error"].startswith("TaskRevokedError")


def test_waiting_costs_one_redis_command_per_tick_whatever_the_number_of_rows(
    app: Celery, redis_server: RedisServer, tmp_path: Path
) -> None:
    batch, out = tmp_path / "batch.txt", tmp_path / "out.jsonl"
    batch.write_text("".join(f"a slow cat, study {n}\n" for n in range(200)))
    workers = FakeWorkers(app)
    client = redis.Redis.from_url(redis_server.url)
    counts: list[int] = []

    def commands() -> int:
        stats = client.info("commandstats")
        return sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")

    def tick(summary: Summary) -> None:
        counts.append(commands())
        if len(counts) == 6:
            for ids in workers.held:
                workers.finish(ids)

    summary = run(app, batch, out, workers, on_update=tick)
    assert summary.done == 200
    per_tick = [b - a for a, b in itertools.pairwise(counts[:6])]
    assert per_tick == [1] * 5, per_tick  # one MGET for 200 rows, not 200 GETs


def test_a_rerun_exits_1_while_a_row_failed_in_an_earlier_run_and_names_each_failed_row(
    app: Celery, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from worker.cli import commands as cli

    batch, out = tmp_path / "batch.txt", tmp_path / "out.jsonl"
    batch.write_text("a cat\nit fails\na dog\n")
    first = run(app, batch, out, FakeWorkers(app))
    assert (first.done, first.failed) == (2, 1)
    capsys.readouterr()
    assert cli.main(["batch", str(batch), "--out", str(out), "--then", "upsample1"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert "line 2: failed in an earlier run: JobFailed: [Banned prompt detected] nope" in err
    assert err[-1].startswith("0 done, 0 failed, 1 failed before (--retry-failed resends)")
    assert "2 already done" in err[-1]
