"""`mjw wait` and `mjw submit --wait`: following a pipeline through the result backend.

Results are stored in a real redis-server the way workers store them; nothing is sent.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from celery import Celery
from celery.exceptions import TaskRevokedError
from rich.console import Console

from worker.adapter.app import app as project_app
from worker.cli import commands as cli
from worker.cli.errors import Interrupted, JobError
from worker.cli.results import Meta, ResultReader
from worker.cli.wait import (
    Step,
    chain_of,
    describe,
    follow,
    remember_chain,
    result_document,
    steps_of,
)
from worker.devtools.embedded import RedisServer
from worker.keys import KEYS
from worker.ttapi.errors import JobFailed


@pytest.fixture
def app(redis_server: RedisServer) -> Iterator[Celery]:
    """The project's own app: the conftest points its REDIS_URL at the test redis-server."""
    assert project_app.mj_settings.redis_url == redis_server.url
    yield project_app


def new_steps(*names: str) -> list[Step]:
    return [Step(str(uuid.uuid4()), name) for name in names]


def job(step: Step) -> dict[str, Any]:
    return {
        "job_id": f"tt-{step.id[:6]}",
        "action": step.name,
        "status": "SUCCESS",
        "image_url": f"https://cdn.example/{step.id}.png",
        "images": None,
    }


def quiet() -> Console:
    return Console(file=io.StringIO(), width=120)


class NoRecords:
    def load(self, job_id: str) -> Any:
        return None


@pytest.mark.parametrize(
    ("meta", "record", "shown"),
    [
        (
            Meta("WAITING", {"account": "acct-1", "position": 2, "waiting_since": "t"}),
            None,
            ("WAITING", "position 2 on acct-1"),
        ),
        (
            Meta("SUBMITTED", {"account": "acct-1", "ttapi_job_id": "j", "progress": 40}),
            None,
            ("SUBMITTED", "40% on acct-1"),
        ),
        (
            Meta("PENDING"),
            SimpleNamespace(
                state="SUBMITTED", progress=15, account="acct-2", params={}, kind="imagine"
            ),
            ("SUBMITTED", "15% on acct-2"),
        ),
        (
            Meta("STARTED"),
            SimpleNamespace(
                state="WAITING", progress=0, account="acct-2", params={}, kind="imagine"
            ),
            ("WAITING", ""),
        ),
        (Meta("PENDING"), None, ("PENDING", "")),
        (Meta("SUCCESS", {"job_id": "j"}), None, ("SUCCESS", "")),
    ],
)
def test_a_step_shows_its_custom_state_info_else_its_job_record(
    meta: Meta, record: Any, shown: tuple[str, str]
) -> None:
    class Records:
        def load(self, job_id: str) -> Any:
            return record

    what, state, detail = describe(Step("0123456789", "imagine"), meta, Records())
    assert what == "imagine 01234567"
    assert (state, detail) == shown


def test_following_reads_every_step_in_one_call_per_tick_until_the_last_one_succeeds(
    app: Celery,
) -> None:
    steps = new_steps("imagine", "upsample2", "upscale_creative")
    reader = ResultReader(app.backend)
    ticks = iter(steps)

    def worker_progress(_: float) -> None:  # each tick, one more step ends
        step = next(ticks)
        app.backend.store_result(step.id, job(step), "SUCCESS")

    outcome = follow(steps, reader, NoRecords(), quiet(), tick=0, sleep=worker_progress)
    assert outcome.meta.ok and outcome.step == 3
    assert outcome.meta.value["action"] == "upscale_creative"
    assert reader.calls == 4  # the first look and one per tick


def test_a_revoked_first_step_ends_the_wait_though_later_steps_never_run(app: Celery) -> None:
    steps = new_steps("imagine", "upsample2")
    app.backend.store_result(steps[0].id, TaskRevokedError("revoked"), "REVOKED")
    outcome = follow(steps, ResultReader(app.backend), None, quiet(), sleep=lambda _: None)
    assert (outcome.step, outcome.meta.state) == (1, "REVOKED")
    doc = result_document(steps, outcome)
    assert doc["status"] == "REVOKED" and doc["failed_task_id"] == steps[0].id
    assert doc["task_id"] == steps[1].id and doc["error_type"] == "TaskRevokedError"


def stop(_: float) -> None:
    raise KeyboardInterrupt


def test_ctrl_c_says_how_to_re_attach_and_never_to_rerun(app: Celery) -> None:
    steps = new_steps("imagine", "upsample2")
    with pytest.raises(Interrupted) as caught:
        follow(steps, ResultReader(app.backend), None, quiet(), sleep=stop)
    assert f"re-attach with: mjw wait {steps[-1].id}" in str(caught.value)
    assert "rerun" not in str(caught.value)


def test_a_timeout_says_the_jobs_go_on_and_how_to_re_attach(app: Celery) -> None:
    steps = new_steps("imagine")
    with pytest.raises(JobError, match=f"not finished after 0 s; .* mjw wait {steps[0].id}"):
        follow(steps, ResultReader(app.backend), None, quiet(), timeout=0, sleep=lambda _: None)


def test_a_pipeline_is_found_again_from_any_of_its_steps(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    steps = new_steps("imagine", "upsample2", "download")
    remember_chain(client, steps, ttl_s=60)
    assert all(chain_of(client, s.id) == steps for s in steps)
    assert 0 < client.ttl(KEYS.chain(steps[0].id)) <= 60
    assert chain_of(client, "someone-elses-task") == [Step("someone-elses-task")]


def test_the_steps_of_a_chain_are_named_by_task_and_action(app: Celery) -> None:
    sig = (
        app.signature("mj.imagine", kwargs={"prompt": "a cat"})
        | app.signature("mj.action", kwargs={"action": "upsample2"})
        | app.signature("mj.download", kwargs={"directory": "d"})
    )
    sig.freeze()
    assert [s.name for s in steps_of(sig)] == ["imagine", "upsample2", "download"]
    assert len({s.id for s in steps_of(sig)}) == 3


def test_mjw_wait_json_prints_the_last_steps_job_result(
    app: Celery, redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = new_steps("imagine", "upsample2")
    remember_chain(redis.Redis.from_url(redis_server.url), steps, ttl_s=60)
    for step in steps:
        app.backend.store_result(step.id, job(step), "SUCCESS")
    assert cli.main(["wait", steps[0].id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == job(steps[1])


def test_mjw_wait_prints_the_images_of_the_result(
    app: Celery, capsys: pytest.CaptureFixture[str]
) -> None:
    [step] = new_steps("upsample1")
    app.backend.store_result(
        step.id, {**job(step), "images": ["https://cdn.example/1.png"]}, "SUCCESS"
    )
    assert cli.main(["wait", step.id]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"upsample1 tt-{step.id[:6]}: https://cdn.example/{step.id}.png",
        "  https://cdn.example/1.png",
    ]


def test_mjw_wait_json_on_a_failed_job_prints_the_error_document_and_exits_1(
    app: Celery, capsys: pytest.CaptureFixture[str]
) -> None:
    [step] = new_steps("imagine")
    app.backend.store_result(step.id, JobFailed("[Banned prompt detected] Sorry!"), "FAILURE")
    assert cli.main(["wait", step.id, "--json"]) == 1
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["status"] == "FAILURE" and doc["error_type"] == "JobFailed"
    assert doc["error"] == "step 1 FAILURE: JobFailed: [Banned prompt detected] Sorry!"
    assert captured.err.splitlines()[-1] == f"mjw wait: {doc['error']}"
