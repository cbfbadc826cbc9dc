"""The private side: the operator page, its JSON, /metrics, a detailed /healthz, basic auth."""

from __future__ import annotations

import base64
import json

import fakeredis
import pytest

from config.settings import Settings, account_label
from tests.support.opsdata import job_ended, job_in_flight, job_waiting
from tests.support.wsgi import wsgi_get
from worker.adapter.heartbeat import HeartbeatWriter
from worker.capacity.lanes import VIDEO_SUFFIX
from worker.jobs.runtime import Runtime
from worker.ops.admin import create_admin_app
from worker.ops.view import OpsView

KEY = "sk-admin-key-aaaa-0001"
A = account_label(KEY)


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def rt(server: fakeredis.FakeServer) -> Runtime:
    settings = Settings(ttapi_api_key=KEY, ttapi_max_in_progress=2)
    return Runtime.build(settings, fakeredis.FakeRedis(server=server, decode_responses=True))


def app_for(rt: Runtime, **settings: object):  # type: ignore[no-untyped-def]
    merged = Settings(ttapi_api_key=KEY, ttapi_max_in_progress=2, **settings)
    return create_admin_app(OpsView.on(merged, rt.redis))


def busy(rt: Runtime) -> None:
    job_in_flight(rt, "job-fly-1", A, "a lighthouse", 40)
    job_in_flight(rt, "job-fly-2", A, "a fox", 10)
    job_waiting(rt, "job-wait-1", A, "a teapot <script>")
    job_ended(rt, "job-done-1", A, "a boat", image="http://img.test/boat.png")
    job_ended(rt, "job-fail-1", A, "a banned thing", error="JobFailed: [Banned prompt detected]")
    HeartbeatWriter(rt.redis, rt.keys, "w@host", lambda: ["celery", "mj.control"], 1.0).beat()
    rt.redis.set(rt.keys.pump_last, str(rt.clock()))


def test_the_page_shows_accounts_jobs_thumbnails_and_failures_escaped(rt: Runtime) -> None:
    busy(rt)
    status, headers, body = wsgi_get(app_for(rt), "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert A in body and "2 / 2" in body  # both slots in use
    assert 'src="http://img.test/boat.png"' in body
    assert "[Banned prompt detected]" in body
    assert "a teapot &lt;script&gt;" in body and "<script>" not in body.replace(
        '<script defer src="static/live.js"', ""
    )
    assert 'src="static/live.js"' in body
    assert "script-src 'self'" in headers["Content-Security-Policy"]


def test_a_video_result_shows_its_first_clip_muted_and_looping(rt: Runtime) -> None:
    job_ended(rt, "job-clip-1", A, "waves", video="http://img.test/waves/0.mp4")
    status, headers, body = wsgi_get(app_for(rt), "/")
    assert status == 200
    assert '<video class="thumb" src="http://img.test/waves/0.mp4"' in body
    assert "muted" in body and "no image" not in body
    assert "media-src *" in headers["Content-Security-Policy"]


def test_with_mj_video_cap_each_accounts_video_lane_has_a_row_of_its_own(rt: Runtime) -> None:
    lane = A + VIDEO_SUFFIX
    rt.guard.set_cap(lane, 3)
    assert rt.guard.acquire(lane, "clip-1").granted
    rt.redis.set(rt.keys.disabled(A), "402: balance exhausted")
    status, _, body = wsgi_get(app_for(rt, mj_video_cap=3), "/api/accounts")
    rows = {r["account"]: r for r in json.loads(body)["accounts"]}
    assert status == 200 and list(rows) == [A, lane]
    assert (rows[lane]["in_use"], rows[lane]["cap"], rows[lane]["lane"]) == (1, 3, "video")
    assert rows[lane]["in_rotation"] is False  # its account's rotation
    assert rows[A]["lane"] is None
    _, _, page = wsgi_get(app_for(rt, mj_video_cap=3), "/")
    assert lane in page
    # Without MJ_VIDEO_CAP video shares the account's cap: no lane rows.
    _, _, body = wsgi_get(app_for(rt), "/api/accounts")
    assert [r["account"] for r in json.loads(body)["accounts"]] == [A]


def test_the_overview_json_has_every_listing(rt: Runtime) -> None:
    busy(rt)
    status, _, body = wsgi_get(app_for(rt), "/api/overview")
    doc = json.loads(body)
    assert status == 200 and doc["status"] == "ok"
    assert [a["account"] for a in doc["accounts"]] == [A]
    assert (doc["accounts"][0]["in_use"], doc["accounts"][0]["waiting"]) == (2, 1)
    jobs = doc["jobs"]
    assert [j["job_id"] for j in jobs["active"]] == ["job-fly-1", "job-fly-2"]
    assert jobs["active"][0]["progress"] == 40
    assert [(j["job_id"], j["position"]) for j in jobs["waiting"]] == [("job-wait-1", 1)]
    assert [j["job_id"] for j in jobs["recent"]] == ["job-fail-1", "job-done-1"]
    assert jobs["recent"][1]["image_url"] == "http://img.test/boat.png"
    assert jobs["recent"][1]["duration_s"] == 4.0
    assert [j["error"] for j in jobs["failed"]] == ["JobFailed: [Banned prompt detected]"]
    assert doc["queues"] == [
        {"queue": "celery", "messages": 0, "workers": 1},
        {"queue": "mj.control", "messages": 0, "workers": 1},
    ]


def test_jobs_are_listed_by_kind_and_account_and_one_job_is_shown_in_full(rt: Runtime) -> None:
    busy(rt)
    app = app_for(rt)
    _, _, body = wsgi_get(app, "/api/jobs?kind=waiting&account=" + A)
    assert [j["job_id"] for j in json.loads(body)["jobs"]] == ["job-wait-1"]
    assert json.loads(wsgi_get(app, "/api/jobs?kind=failed&account=acct-none")[2])["jobs"] == []
    assert wsgi_get(app, "/api/jobs?kind=everything")[0] == 400
    status, _, body = wsgi_get(app, "/api/jobs/job-wait-1")
    doc = json.loads(body)
    assert status == 200 and doc["guard"] == {"holds_slot": False, "position": 1}
    assert doc["steps"][0]["this"] and doc["steps"][0]["state"] == "WAITING"
    assert wsgi_get(app, "/api/jobs/nope")[0] == 404


def test_the_private_healthz_is_200_degraded_with_reasons_and_503_only_without_redis(
    rt: Runtime, server: fakeredis.FakeServer
) -> None:
    app = app_for(rt)
    rt.redis.rpush("celery", "m1")
    status, _, body = wsgi_get(app, "/healthz")
    doc = json.loads(body)
    assert status == 200 and doc["status"] == "degraded"
    assert doc["reasons"] == ["no worker consumes celery (1 message waiting)"]
    server.connected = False
    status, _, body = wsgi_get(app, "/healthz")
    assert status == 503 and json.loads(body) == {
        "status": "down",
        "reasons": ["redis: ConnectionError"],
    }
    assert wsgi_get(app, "/")[0] == 503


def test_the_fragment_metrics_and_static_files_are_served(rt: Runtime) -> None:
    app = app_for(rt)
    status, _, body = wsgi_get(app, "/fragment")
    assert status == 200 and body.startswith('<section id="health"')
    assert "mj_queue_length" in wsgi_get(app, "/metrics")[2]
    status, headers, body = wsgi_get(app, "/static/live.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert "fragment" in body
    assert wsgi_get(app, "/static/../../etc/passwd")[0] == 404


def test_it_is_read_only(rt: Runtime) -> None:
    assert wsgi_get(app_for(rt), "/api/overview", "POST")[0] == 405


@pytest.mark.parametrize(
    ("given", "status"),
    [
        (None, 401),
        ("Basic " + base64.b64encode(b"ops:wrong").decode(), 401),
        ("Basic not-base64!", 401),
        ("Bearer x", 401),
        ("Basic " + base64.b64encode(b"ops:s3cret").decode(), 200),
    ],
)
def test_basic_auth_guards_every_path_when_set(rt: Runtime, given: str | None, status: int) -> None:
    from wsgiref.util import setup_testing_defaults

    app = app_for(rt, mj_admin_auth="ops:s3cret")
    environ: dict[str, object] = {"PATH_INFO": "/healthz", "REQUEST_METHOD": "GET"}
    if given:
        environ["HTTP_AUTHORIZATION"] = given
    setup_testing_defaults(environ)
    seen: list[str] = []
    app(environ, lambda s, h, e=None: seen.append(s))  # type: ignore[arg-type,misc]
    assert int(seen[0].split()[0]) == status
