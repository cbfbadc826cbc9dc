"""`/metrics`: Prometheus text read from Redis at scrape time, summed over every process."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import fakeredis
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from config.settings import Settings, account_label
from tests.support.wsgi import wsgi_get
from worker.adapter.heartbeat import HeartbeatWriter
from worker.capacity import metrics
from worker.devtools.embedded import free_port
from worker.jobs.record import RecordState
from worker.jobs.runtime import Runtime
from worker.ops.http import create_metrics_app

ROOT = Path(__file__).resolve().parents[2]
KEY_A, KEY_B = "sk-metrics-key-aaaa-1111", "sk-metrics-key-bbbb-2222"
A, B = account_label(KEY_A), account_label(KEY_B)


def build_runtime(server: fakeredis.FakeServer, prefix: str = "mj") -> Runtime:
    settings = Settings(
        ttapi_api_keys=f"{KEY_A},{KEY_B}", ttapi_max_in_progress=3, mj_key_prefix=prefix
    )
    client = fakeredis.FakeRedis(server=server, decode_responses=True)
    return Runtime.build(settings, client)


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def rt(server: fakeredis.FakeServer) -> Runtime:
    return build_runtime(server)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page, keyed by name and sorted labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape(rt: Runtime) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, headers, text = wsgi_get(create_metrics_app(rt), "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert KEY_A not in text and KEY_B not in text
    return samples(text)


def test_a_refusal_counts_in_the_recent_window_and_in_a_total_that_only_grows(
    rt: Runtime,
) -> None:
    for minute in range(3):
        metrics.count(rt.redis, A, 429, now=1_000_000 + 3600 * minute, keys=rt.keys)  # hours
    metrics.count(rt.redis, A, 499, now=1_000_000, keys=rt.keys)
    assert metrics.recent(rt.redis, A, 429, now=1_000_000 + 7200, keys=rt.keys) == 1
    assert metrics.totals(rt.redis, A, keys=rt.keys) == {"429": 3, "499": 1}
    assert metrics.totals(rt.redis, B, keys=rt.keys) == {}


@pytest.mark.parametrize(
    ("seconds", "bucket"),
    [
        (0, "5"),
        (5, "5"),
        (5.01, "10"),
        (59.9, "60"),
        (1200, "1200"),
        (1200.5, "+Inf"),
    ],
)
def test_a_duration_falls_in_the_smallest_bucket_that_holds_it(seconds: float, bucket: str) -> None:
    assert metrics.bucket_of(seconds) == bucket


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_a_duration_that_is_not_a_finite_positive_number_is_refused(
    rt: Runtime, bad: float
) -> None:
    with pytest.raises(ValueError, match="seconds"):
        metrics.observe_duration(rt.redis, "fast", bad, keys=rt.keys)


def test_an_unknown_outcome_is_refused_and_states_count_in_any_case(rt: Runtime) -> None:
    metrics.count_outcome(rt.redis, "SUCCESS", keys=rt.keys)
    metrics.count_outcome(rt.redis, "revoked", keys=rt.keys)
    with pytest.raises(ValueError, match="outcome"):
        metrics.count_outcome(rt.redis, "lost", keys=rt.keys)
    assert metrics.outcomes(rt.redis, keys=rt.keys) == {"success": 1, "failed": 0, "revoked": 1}


def test_metrics_show_each_accounts_slots_cap_waiters_and_balance_by_label(
    rt: Runtime,
) -> None:
    for job in ("j1", "j2", "j3", "j4", "j5"):  # cap 3: two wait
        rt.guard.acquire(A, job)
    rt.guard.set_cap(B, 7)
    rt.redis.hset(rt.keys.info(A), mapping={"balance": "12.5", "max_queue": "3"})
    got = scrape(rt)
    assert got[("mj_slots_in_use", (("account", A),))] == 3
    assert got[("mj_slots_cap", (("account", A),))] == 3
    assert got[("mj_waiting_jobs", (("account", A),))] == 2
    assert got[("mj_balance", (("account", A),))] == 12.5
    assert got[("mj_slots_in_use", (("account", B),))] == 0
    assert got[("mj_slots_cap", (("account", B),))] == 7
    assert ("mj_balance", (("account", B),)) not in got  # never refreshed: no value, not 0


def test_ambiguous_jobs_are_counted_per_account_from_the_open_records(rt: Runtime) -> None:
    def job(job_id: str, account: str, state: str) -> None:
        rt.records.create(job_id, account=account)
        if state != RecordState.NEW:
            assert rt.records.move(job_id, RecordState.NEW, state)

    job("lost-1", A, RecordState.AMBIGUOUS)
    job("lost-2", A, RecordState.AMBIGUOUS)
    job("lost-3", B, RecordState.AMBIGUOUS)
    job("fine-1", A, RecordState.SUBMITTED)
    job("fine-2", B, RecordState.SUBMITTING)
    got = scrape(rt)
    assert got[("mj_ambiguous_jobs", (("account", A),))] == 2
    assert got[("mj_ambiguous_jobs", (("account", B),))] == 1
    assert rt.records.move("lost-1", RecordState.AMBIGUOUS, RecordState.SUBMITTED)
    assert scrape(rt)[("mj_ambiguous_jobs", (("account", A),))] == 1


def test_counters_from_several_processes_add_up_in_one_scrape(
    server: fakeredis.FakeServer,
) -> None:
    one, two, web = build_runtime(server), build_runtime(server), build_runtime(server)
    metrics.count(one.redis, A, 499, keys=one.keys)
    metrics.count(two.redis, A, 499, keys=two.keys)
    metrics.count(two.redis, B, 503, keys=two.keys)
    metrics.count_outcome(one.redis, "success", keys=one.keys)
    metrics.count_outcome(two.redis, "success", keys=two.keys)
    metrics.count_outcome(two.redis, "failed", keys=two.keys)
    got = scrape(web)
    assert got[("mj_ttapi_responses_total", (("account", A), ("status", "499")))] == 2
    assert got[("mj_ttapi_responses_total", (("account", B), ("status", "503")))] == 1
    assert got[("mj_jobs_total", (("outcome", "success"),))] == 2
    assert got[("mj_jobs_total", (("outcome", "failed"),))] == 1
    assert got[("mj_jobs_total", (("outcome", "revoked"),))] == 0


def test_answers_counted_under_a_custom_key_prefix_are_the_ones_scraped_and_shown(
    server: fakeredis.FakeServer,
) -> None:
    from worker.ops.accounts import account_row
    from worker.ops.view import OpsView

    other = build_runtime(server, prefix="blue")
    metrics.count(build_runtime(server).redis, A, 429, keys=build_runtime(server).keys)
    metrics.count(other.redis, A, 499, keys=other.keys)
    got = scrape(other)
    assert got[("mj_ttapi_responses_total", (("account", A), ("status", "499")))] == 1
    assert ("mj_ttapi_responses_total", (("account", A), ("status", "429"))) not in got
    row = account_row(OpsView.on(other.settings, other.redis), A)
    assert (row["recent_499"], row["recent_429"]) == (1, 0)


def test_job_durations_are_a_cumulative_histogram_per_mode(rt: Runtime) -> None:
    for seconds in (3, 40, 55, 700):
        metrics.observe_duration(rt.redis, "fast", seconds, keys=rt.keys)
    metrics.observe_duration(rt.redis, "relax", 2000, keys=rt.keys)
    metrics.observe_duration(rt.redis, "Weird Mode!", 1, keys=rt.keys)
    got = scrape(rt)

    def bucket(mode: str, le: str) -> float:
        return got[("mj_job_duration_seconds_bucket", (("le", le), ("mode", mode)))]

    assert [bucket("fast", le) for le in ("5.0", "45.0", "60.0", "600.0", "1200.0", "+Inf")] == [
        1,
        2,
        3,
        3,
        4,
        4,
    ]
    assert got[("mj_job_duration_seconds_count", (("mode", "fast"),))] == 4
    assert got[("mj_job_duration_seconds_sum", (("mode", "fast"),))] == 798
    assert bucket("relax", "1200.0") == 0 and bucket("relax", "+Inf") == 1
    assert got[("mj_job_duration_seconds_count", (("mode", "other"),))] == 1


def test_every_contract_metric_is_on_the_page_before_any_job_ran(rt: Runtime) -> None:
    _, _, text = wsgi_get(create_metrics_app(rt), "/metrics")
    families = {f.name for f in text_string_to_metric_families(text)}
    assert {
        "mj_slots_in_use",
        "mj_slots_cap",
        "mj_waiting_jobs",
        "mj_ambiguous_jobs",
        "mj_balance",
        "mj_ttapi_responses",
        "mj_jobs",
        "mj_job_duration_seconds",
        "mj_queue_length",
        "mj_workers",
        "mj_pump_last_run_timestamp_seconds",
    } <= families
    assert "# TYPE mj_ttapi_responses_total counter" in text
    assert "# TYPE mj_job_duration_seconds histogram" in text


def test_metrics_answer_503_when_redis_is_away_and_only_get_or_head(
    rt: Runtime,
    server: fakeredis.FakeServer,
) -> None:
    app = create_metrics_app(rt)
    assert wsgi_get(app, "/metrics", "POST")[0] == 405
    status, _, body = wsgi_get(app, "/metrics", "HEAD")
    assert (status, body) == (200, "")
    server.connected = False
    status, _, body = wsgi_get(app, "/metrics")
    assert status == 503 and "redis" in body


def test_the_metrics_app_alone_serves_metrics_and_health_but_no_hooks(rt: Runtime) -> None:
    app = create_metrics_app(rt)
    assert wsgi_get(app, "/metrics")[0] == 200
    assert wsgi_get(app, "/healthz")[0] == 200
    assert wsgi_get(app, "/hook/abcdefghijklmnopqrstuvwx", "POST")[0] == 404


@pytest.fixture
def metrics_process() -> Iterator[tuple[subprocess.Popen[str], int]]:
    """`serve_metrics` in a child process over fakeredis, stopped by its pid afterwards."""
    port = free_port()
    code = (
        "import sys, fakeredis\n"
        "from config.settings import Settings\n"
        "from worker.capacity import metrics\n"
        "from worker.ops.http import serve_metrics\n"
        "from worker.jobs.runtime import Runtime\n"
        f"s = Settings(ttapi_api_keys={KEY_A!r})\n"
        "rt = Runtime.build(s, fakeredis.FakeRedis(decode_responses=True))\n"
        "metrics.count_outcome(rt.redis, 'success', keys=rt.keys)\n"
        "print('up', flush=True)\n"
        f"serve_metrics(rt, '127.0.0.1', {port})\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=dict(os.environ),
    )
    try:
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_serve_metrics_answers_over_http_until_sigterm_then_returns(
    metrics_process: tuple[subprocess.Popen[str], int],
) -> None:
    proc, port = metrics_process
    assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            answer = requests.get(f"{base}/metrics", timeout=5)
            break
        except requests.ConnectionError:
            time.sleep(0.05)
    assert answer.status_code == 200
    assert samples(answer.text)[("mj_jobs_total", (("outcome", "success"),))] == 1
    health = requests.get(f"{base}/healthz", timeout=5)
    assert (health.status_code, health.json()) == (200, {"ok": True})
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0


def test_queue_lengths_workers_per_queue_and_the_pump_are_metrics(rt: Runtime) -> None:
    rt.redis.rpush("celery", "m1", "m2")
    rt.redis.rpush("mj.control", "m3")
    HeartbeatWriter(rt.redis, rt.keys, "user@a", lambda: ["celery"], 1.0).beat()
    rt.redis.set(rt.keys.pump_last, "1700000000.5")
    got = scrape(rt)
    assert got[("mj_queue_length", (("queue", "celery"),))] == 2
    assert got[("mj_queue_length", (("queue", "mj.control"),))] == 1
    assert got[("mj_workers", (("queue", "celery"),))] == 1
    assert got[("mj_workers", (("queue", "mj.control"),))] == 0
    assert got[("mj_pump_last_run_timestamp_seconds", ())] == 1700000000.5


def test_accounts_only_registered_by_other_processes_are_shown_too(
    server: fakeredis.FakeServer,
) -> None:
    keyless = Runtime.build(Settings(), fakeredis.FakeRedis(server=server, decode_responses=True))
    build_runtime(server)  # a worker with both keys registers their labels
    got = scrape(keyless)
    assert got[("mj_slots_cap", (("account", A),))] == 10
    assert ("mj_slots_cap", (("account", B),)) in got
