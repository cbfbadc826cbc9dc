"""`mjw status`, `mjw jobs` and `mjw show` against a real redis-server, with no TTAPI key."""

from __future__ import annotations

import json
import uuid

import pytest
import redis

from config.settings import Settings, account_label
from tests.support.opsdata import job_ended, job_in_flight, job_waiting
from worker.adapter.heartbeat import HeartbeatWriter
from worker.cli import commands as cli
from worker.devtools.embedded import RedisServer
from worker.jobs.runtime import Runtime

KEY = "sk-cli-ops-key-0001"
A = account_label(KEY)


@pytest.fixture
def rt(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    """A worker's view of a busy account, under a prefix of this test's own."""
    prefix = f"t{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("MJ_KEY_PREFIX", prefix)
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    worker = Runtime.build(
        Settings(ttapi_api_key=KEY, ttapi_max_in_progress=1, mj_key_prefix=prefix),
        client,
    )
    job_in_flight(worker, "job-fly", A, "a lighthouse", 55)
    job_waiting(worker, "job-wait", A, "a fox")
    job_ended(worker, "job-ok", A, "a boat", image="http://img.test/boat.png")
    job_ended(worker, "job-bad", A, "a banned thing", error="JobFailed: [Banned prompt]")
    return worker


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    assert cli.main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_status_needs_no_ttapi_key_and_says_what_it_cannot_show(
    rt: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = run_json(capsys, "status")
    assert isinstance(doc, dict)
    assert [(a["account"], a["in_use"], a["waiting"]) for a in doc["accounts"]] == [(A, 1, 1)]
    assert "no TTAPI key configured here" in doc["notes"][0]
    assert {q["queue"] for q in doc["queues"]} >= {"celery", "mj.control"}
    assert doc["pump"]["last_run"] is None


def test_status_as_tables_shows_queues_workers_and_the_verdict(
    rt: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    HeartbeatWriter(rt.redis, rt.keys, "w@host", lambda: ["celery", "mj.control"], 1.0).beat()
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert A in out and "1/1" in out
    assert "workers online: w@host (celery, mj.control)" in out
    assert "status: ok" in out


@pytest.mark.parametrize(
    ("flag", "ids"),
    [
        ("--waiting", ["job-wait"]),
        ("--active", ["job-fly"]),
        ("--recent", ["job-bad", "job-ok"]),
        ("--failed", ["job-bad"]),
    ],
)
def test_jobs_lists_each_kind(
    rt: Runtime, capsys: pytest.CaptureFixture[str], flag: str, ids: list[str]
) -> None:
    found = run_json(capsys, "jobs", flag, "--account", A)
    assert isinstance(found, list) and [j["job_id"] for j in found] == ids


def test_jobs_without_a_kind_prints_all_four_tables(
    rt: Runtime, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    assert cli.main(["jobs", "--failed"]) == 0
    assert "JobFailed: [Banned prompt]" in capsys.readouterr().out  # as written, not markup
    assert cli.main(["jobs"]) == 0
    out = capsys.readouterr().out
    for title in ("waiting", "in flight", "recently ended", "recently failed"):
        assert title in out


def test_show_prints_the_record_steps_timings_urls_and_error(
    rt: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["show", "job-ok"]) == 0
    out = capsys.readouterr().out
    assert "job-ok" in out and "SUCCESS" in out and "url: http://img.test/boat.png" in out
    assert "finished_at" in out
    doc = run_json(capsys, "show", "job-fly")
    assert isinstance(doc, dict)
    assert (doc["ttapi_job_id"], doc["progress"], doc["guard"]["holds_slot"]) == (
        "tt-job-fly",
        55,
        True,
    )


def test_show_of_an_unknown_job_is_one_line_and_exit_1(
    rt: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["show", "no-such-job"]) == 1
    assert capsys.readouterr().err.strip() == (
        "mjw show: no record of job no-such-job (never created here, or expired)"
    )
