"""The webhook receiver on fakeredis: authentication, limits, parsing, settling exactly once."""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import WSGIApplication
from wsgiref.util import setup_testing_defaults

import fakeredis
import pytest
import requests

from config.settings import Settings
from worker.devtools.embedded import free_port
from worker.jobs.effects import Effects, Fill, PollAt, Report, Show, Submit
from worker.jobs.reconcile import schedule_poll
from worker.jobs.record import RecordState
from worker.jobs.records import RecordStore
from worker.jobs.runtime import Runtime
from worker.jobs.submit import hook_url
from worker.webhook.receiver import create_wsgi_app

JOB, TT_JOB = "celery-task-1", "tt-job-0001"
ROOT = Path(__file__).resolve().parents[2]
BANNED = "[Banned prompt detected] the prompt contains a banned word"


class RecordingDispatcher:
    """Records the effects the receiver's steps return, instead of carrying them out; a
    state's progress note lands on the record as the real dispatcher's script lands it."""

    def __init__(self) -> None:
        self.records: RecordStore | None = None  # the runtime's, once it is built
        self.resumed: list[str] = []
        self.submits: list[str] = []
        self.polls: list[tuple[str, int, float]] = []
        self.fills: list[tuple[str, float]] = []
        self.states: list[tuple[str, str, dict[str, Any]]] = []

    def carry_out(self, effects: Effects) -> None:
        for effect in effects:
            if isinstance(effect, Report):
                self.resumed.append(effect.job_id)
            elif isinstance(effect, Submit):
                self.submits.append(effect.job_id)
            elif isinstance(effect, PollAt):
                self.polls.append((effect.job_id, effect.seq, effect.delay_s))
            elif isinstance(effect, Fill):
                self.fills.append((effect.label, effect.delay_s))
            elif isinstance(effect, Show):
                note, records = effect.note, self.records
                if note is None or (records is not None and records.note(effect.job_id, note)):
                    self.states.append((effect.job_id, effect.state, effect.meta))


class Answer:
    """One HTTP answer of the app: status code, headers and decoded body."""

    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.code = int(status.split()[0])
        self.headers = dict(headers)
        self.text = body.decode()

    def json(self) -> Any:
        return json.loads(self.text)


@pytest.fixture
def dispatcher() -> RecordingDispatcher:
    return RecordingDispatcher()


def build_runtime(dispatcher: RecordingDispatcher, **overrides: Any) -> Runtime:
    values: dict[str, Any] = {
        "ttapi_api_keys": "sk-test-1",
        "mj_hook_base_url": "http://127.0.0.1:1",
        **overrides,
    }
    settings = Settings(**values)
    return Runtime.build(settings, fakeredis.FakeRedis(decode_responses=True))


@pytest.fixture
def rt(dispatcher: RecordingDispatcher) -> Runtime:
    built = build_runtime(dispatcher)
    dispatcher.records = built.records
    return built


@pytest.fixture
def app(rt: Runtime, dispatcher: RecordingDispatcher) -> WSGIApplication:
    return create_wsgi_app(rt, dispatcher.carry_out, max_body=4096)


def submitted_job(
    rt: Runtime,
    job_id: str = JOB,
    ttapi_job_id: str = TT_JOB,
    kind: str = "imagine",
    params: dict[str, Any] | None = None,
) -> str:
    """A job holding a slot in state SUBMITTED, with its hook issued as a submit issues it."""
    label = rt.pool.labels[0]
    rec = rt.records.create(
        job_id,
        kind=kind,
        params=params or {"prompt": "a cat", "mode": "fast"},
        account=label,
        sig={"task": f"mj.{kind}", "options": {"task_id": job_id}},
    )
    assert rt.guard.acquire(label, job_id).granted
    url = hook_url(rt, rec)
    token = url.rsplit("/hook/", 1)[1] if url else ""
    assert rt.records.move(
        job_id,
        RecordState.NEW,
        RecordState.SUBMITTED,
        ttapi_job_id=ttapi_job_id,
        submitted_at_ts=rt.clock() - 1,
        poll_seq=1,
        progress=0,
    )
    return token


def callback(
    ttapi_job_id: str = TT_JOB,
    status: str = "SUCCESS",
    *,
    action: str = "imagine",
    progress: str = "100",
    message: str = "success",
) -> dict[str, Any]:
    """A callback body as TTAPI sends it: the fetch body with `data.actions`."""
    if status == "FAILED":
        return {"status": status, "jobId": ttapi_job_id, "message": message, "data": []}
    done = status == "SUCCESS"
    return {
        "status": status,
        "jobId": ttapi_job_id,
        "message": message if done else "",
        "data": {
            "actions": action,
            "jobId": ttapi_job_id,
            "progress": progress,
            "prompt": "a cat",
            "quota": "3",
            "cdnImage": "https://cdn.example/0.png",
            "discordImage": "https://discord.example/0.png",
            "width": 1024,
            "height": 1024,
            "hookUrl": "http://127.0.0.1:1/hook/x",
            "components": ["upsample1", "upsample2", "variation1"] if done else [],
            "seed": "1234" if done else None,
            "images": [f"https://cdn.example/{n}.png" for n in range(1, 5)]
            if done and action == "imagine"
            else None,
        },
    }


def call(
    app: WSGIApplication,
    method: str,
    path: str,
    body: bytes | dict[str, Any] = b"",
    environ_extra: dict[str, Any] | None = None,
) -> Answer:
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    environ.update(REQUEST_METHOD=method, PATH_INFO=path, CONTENT_LENGTH=str(len(raw)))
    environ["wsgi.input"] = io.BytesIO(raw)
    environ.update(environ_extra or {})
    seen: dict[str, Any] = {}

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        seen.update(status=status, headers=headers)
        return lambda data: None

    out = b"".join(app(environ, start_response))
    return Answer(seen["status"], seen["headers"], out)


def test_a_valid_callback_settles_the_job_and_resumes_its_task_once(
    rt: Runtime,
    app: WSGIApplication,
    dispatcher: RecordingDispatcher,
) -> None:
    token = submitted_job(rt)
    answer = call(app, "POST", f"/hook/{token}", callback())
    assert (answer.code, answer.json()) == (200, {"ok": True, "settled": True})
    rec = rt.records.load(JOB)
    assert rec is not None and rec.state == RecordState.SUCCESS
    assert rec.result["job_id"] == TT_JOB and len(rec.result["images"]) == 4
    assert dispatcher.resumed == [JOB]
    assert rt.guard.state(rt.pool.labels[0]).holders == {}


def test_a_duplicated_callback_answers_200_and_does_not_resume_again(
    rt: Runtime,
    app: WSGIApplication,
    dispatcher: RecordingDispatcher,
) -> None:
    token = submitted_job(rt)
    first = call(app, "POST", f"/hook/{token}", callback())
    again = [call(app, "POST", f"/hook/{token}", callback()) for _ in range(3)]
    assert first.json()["settled"] is True
    assert [(a.code, a.json()) for a in again] == [(200, {"ok": True, "settled": False})] * 3
    assert dispatcher.resumed == [JOB]


@pytest.mark.parametrize(
    "token",
    [
        secrets.token_urlsafe(24),  # well formed, never issued
        "short",  # not a token at all
        "a" * 400,  # absurdly long
        "",  # no token
        "../../healthz",
    ],
)
def test_a_token_that_was_never_issued_is_404(
    rt: Runtime,
    app: WSGIApplication,
    dispatcher: RecordingDispatcher,
    token: str,
) -> None:
    submitted_job(rt)
    answer = call(app, "POST", f"/hook/{token}", callback())
    assert answer.code == 404
    assert rt.records.load(JOB).state == RecordState.SUBMITTED  # type: ignore[union-attr]
    assert dispatcher.resumed == []


def test_an_index_entry_whose_record_holds_another_token_is_404(
    rt: Runtime,
    app: WSGIApplication,
) -> None:
    submitted_job(rt)
    forged = secrets.token_urlsafe(24)
    rt.redis.set(rt.keys.hook(forged), JOB)  # an index that disagrees with the record
    assert call(app, "POST", f"/hook/{forged}", callback()).code == 404
    assert rt.records.load(JOB).state == RecordState.SUBMITTED  # type: ignore[union-attr]


class Unreadable(io.RawIOBase):
    """A request stream that fails the test if the app reads from it at all."""

    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the app read a body it should have refused unread")


def test_a_body_declared_over_the_limit_is_413_without_being_read(
    rt: Runtime,
    app: WSGIApplication,
) -> None:
    token = submitted_job(rt)
    answer = call(
        app,
        "POST",
        f"/hook/{token}",
        environ_extra={"CONTENT_LENGTH": "2000000", "wsgi.input": Unreadable()},
    )
    assert answer.code == 413
    assert rt.records.load(JOB).state == RecordState.SUBMITTED  # type: ignore[union-attr]


def test_a_body_longer_than_the_limit_is_413_even_without_a_length(
    rt: Runtime,
    app: WSGIApplication,
) -> None:
    token = submitted_job(rt)
    body = json.dumps({**callback(), "padding": "x" * 10_000}).encode()
    answer = call(
        app,
        "POST",
        f"/hook/{token}",
        environ_extra={
            "CONTENT_LENGTH": "",
            "wsgi.input": io.BytesIO(body),
            "wsgi.input_terminated": True,
        },
    )
    assert answer.code == 413


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"",
        b"[1, 2, 3]",
        b'"SUCCESS"',
        b"null",
        b"\xff\xfe\x00garbage",
        b'{"status": 5, "jobId": "tt-job-0001"}',
        b'{"status": "SUCCESS"}',
    ],
)
def test_a_body_that_is_not_a_json_object_as_documented_is_400(
    rt: Runtime,
    app: WSGIApplication,
    dispatcher: RecordingDispatcher,
    body: bytes,
) -> None:
    token = submitted_job(rt)
    answer = call(app, "POST", f"/hook/{token}", body)
    assert answer.code == 400 and answer.json()["ok"] is False
    assert dispatcher.resumed == []


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/hook", "/hook/", "/hook/some-token-value-1234"])
def test_any_method_but_post_on_a_hook_is_405(app: WSGIApplication, method: str, path: str) -> None:
    answer = call(app, method, path)
    assert answer.code == 405 and answer.headers["Allow"] == "POST"


def test_a_callback_for_another_ttapi_job_is_409_and_changes_nothing(
    rt: Runtime,
    app: WSGIApplication,
    dispatcher: RecordingDispatcher,
) -> None:
    token = submitted_job(rt)
    answer = call(app, "POST", f"/hook/{token}", callback("tt-someone-elses-job"))
    assert answer.code == 409
    assert rt.records.load(JOB).state == RecordState.SUBMITTED  # type: ignore[union-attr]
    assert dispatcher.resumed == []


def test_the_actions_spelling_of_the_callback_is_absorbed(
    rt: Runtime,
    app: WSGIApplication,
) -> None:
    token = submitted_job(rt, kind="action", params={"action": "upsample2"})
    body = callback(action="upsample2")
    assert "action" not in body["data"] and body["data"]["actions"] == "upsample2"
    assert call(app, "POST", f"/hook/{token}", body).json() == {"ok": True, "settled": True}
    rec = rt.records.load(JOB)
    assert rec is not None and rec.result["action"] == "upsample2"
    assert rec.result["components"] == ["upsample1", "upsample2", "variation1"]


def test_a_failed_callback_with_a_banned_prompt_ends_the_job_failed(
    rt: Runtime,
    app: WSGIApplication,
    dispatcher: RecordingDispatcher,
) -> None:
    token = submitted_job(rt)
    answer = call(app, "POST", f"/hook/{token}", callback(status="FAILED", message=BANNED))
    assert answer.json() == {"ok": True, "settled": True}
    rec = rt.records.load(JOB)
    assert rec is not None and rec.state == RecordState.FAILED and rec.error == BANNED
    assert dispatcher.resumed == [JOB]  # the task wakes up to raise JobFailed
    assert rt.guard.state(rt.pool.labels[0]).holders == {}


def test_a_late_retry_for_an_attempt_that_was_resubmitted_is_acknowledged(
    rt: Runtime,
    app: WSGIApplication,
    dispatcher: RecordingDispatcher,
) -> None:
    token = submitted_job(rt)
    timeout = callback(status="FAILED", message="Job Timeout")
    assert call(app, "POST", f"/hook/{token}", timeout).json()["settled"] is True
    assert rt.records.load(JOB).state == RecordState.WAITING  # type: ignore[union-attr]
    again = call(app, "POST", f"/hook/{token}", timeout)
    assert (again.code, again.json()) == (200, {"ok": True, "settled": False})
    assert (dispatcher.submits, dispatcher.resumed) == ([JOB], [])  # resubmitted once


def test_a_late_retry_for_the_failed_attempt_never_ends_the_resubmit_whose_answer_was_lost(
    rt: Runtime,
    app: WSGIApplication,
    dispatcher: RecordingDispatcher,
) -> None:
    token = submitted_job(rt)
    timeout = callback(status="FAILED", message="Job Timeout")
    assert call(app, "POST", f"/hook/{token}", timeout).json()["settled"] is True
    # The resubmit went out and its answer was lost: AMBIGUOUS, no TTAPI id yet.
    assert rt.records.move(
        JOB, RecordState.WAITING, RecordState.AMBIGUOUS, lost_at=rt.clock(), sent_at=rt.clock()
    )
    again = call(app, "POST", f"/hook/{token}", timeout)  # TTAPI retries the old callback
    assert (again.code, again.json()) == (200, {"ok": True, "settled": False})
    rec = rt.records.load(JOB)
    assert rec is not None and (rec.state, rec.ttapi_job_id) == (RecordState.AMBIGUOUS, "")
    assert (dispatcher.submits, dispatcher.resumed) == ([JOB], [])  # the resubmit, no report


def test_a_progress_callback_records_progress_and_settles_nothing(
    rt: Runtime,
    app: WSGIApplication,
    dispatcher: RecordingDispatcher,
) -> None:
    token = submitted_job(rt)
    answer = call(app, "POST", f"/hook/{token}", callback(status="ON_QUEUE", progress="42"))
    assert (answer.code, answer.json()) == (200, {"ok": True, "settled": False})
    stale = call(app, "POST", f"/hook/{token}", callback(status="ON_QUEUE", progress="10"))
    assert stale.code == 200
    rec = rt.records.load(JOB)
    assert rec is not None and (rec.state, rec.progress) == (RecordState.SUBMITTED, 42)
    assert dispatcher.resumed == []


def test_healthz_answers_ok_and_other_paths_are_404(app: WSGIApplication) -> None:
    health = call(app, "GET", "/healthz")
    assert (health.code, health.json()) == (200, {"ok": True})
    assert call(app, "POST", "/healthz").code == 405
    for path in ("/", "/hooks/abc", "/healthz/x", "/_sim/stats"):
        assert call(app, "GET", path).code == 404


def test_the_log_line_names_job_and_status_but_never_the_token(
    rt: Runtime,
    app: WSGIApplication,
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = submitted_job(rt)
    with caplog.at_level(logging.INFO, logger="worker.webhook.receiver"):
        call(app, "POST", f"/hook/{token}", callback())
        call(app, "POST", f"/hook/{secrets.token_urlsafe(24)}", callback())
    lines = [r.getMessage() for r in caplog.records if r.name == "worker.webhook.receiver"]
    assert len(lines) == 2
    assert JOB in lines[0] and "SUCCESS" in lines[0] and "200" in lines[0]
    assert "404" in lines[1]
    assert all(token not in line and token[:8] not in line for line in lines)


@pytest.fixture
def loopback(app: WSGIApplication) -> Iterator[str]:
    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_callback_over_a_real_loopback_server_settles_the_job(
    rt: Runtime,
    loopback: str,
    dispatcher: RecordingDispatcher,
) -> None:
    token = submitted_job(rt)
    answer = requests.post(f"{loopback}/hook/{token}", json=callback(), timeout=5)
    assert (answer.status_code, answer.json()) == (200, {"ok": True, "settled": True})
    assert requests.get(f"{loopback}/hook/{token}", timeout=5).status_code == 405
    assert dispatcher.resumed == [JOB]


def test_mjw_webhook_serves_under_waitress_until_sigterm_then_exits_0() -> None:
    port = free_port()
    code = (
        "import argparse, sys\nfrom worker.webhook.serve import add_arguments, run\n"
        "p = argparse.ArgumentParser(); add_arguments(p)\n"
        "sys.exit(run(p.parse_args()))"
    )
    env = {**os.environ, "MJ_HOOK_BASE_URL": "https://hooks.example.com"}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line == (
            f"webhook receiver on http://127.0.0.1:{port} "
            "(hooks under https://hooks.example.com/hook/...)"
        )
        base = f"http://127.0.0.1:{port}"
        assert requests.get(f"{base}/healthz", timeout=5).status_code in (200, 503)  # Redis?
        huge = requests.post(
            f"{base}/hook/{secrets.token_urlsafe(24)}", data=b"x" * 2_000_000, timeout=10
        )
        assert huge.status_code == 413  # waitress refuses it before the app buffers it
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_with_webhooks_the_first_poll_waits_for_the_safety_net_gap(
    dispatcher: RecordingDispatcher,
) -> None:
    rt = build_runtime(dispatcher, mj_hook_safety_poll_s=45.0)
    submitted_job(rt)
    dispatcher.carry_out([schedule_poll(rt, rt.records.load(JOB), 2)])  # type: ignore[arg-type]
    assert dispatcher.polls == [(JOB, 2, 45.0)]


def test_with_webhooks_fetch_errors_still_back_off_as_without(
    dispatcher: RecordingDispatcher,
) -> None:
    rt = build_runtime(dispatcher, mj_hook_safety_poll_s=45.0, mj_poll_min_s=1.0)
    submitted_job(rt)
    late = schedule_poll(rt, rt.records.load(JOB), 2, errors_in_row=2)  # type: ignore[arg-type]
    dispatcher.carry_out([late])
    assert dispatcher.polls == [(JOB, 2, 4.0)]


def test_without_webhooks_polling_keeps_its_own_schedule(
    dispatcher: RecordingDispatcher,
) -> None:
    rt = build_runtime(dispatcher, mj_hook_safety_poll_s=45.0, mj_hook_base_url=None)
    submitted_job(rt)
    dispatcher.carry_out([schedule_poll(rt, rt.records.load(JOB), 2)])  # type: ignore[arg-type]
    ((_, _, gap),) = dispatcher.polls
    assert rt.timing.bounds.min_s <= gap <= rt.timing.bounds.max_s < 45.0


def test_a_callback_for_a_job_whose_submit_answer_was_lost_proves_which_ttapi_job_is_ours(
    rt: Runtime, app: WSGIApplication
) -> None:
    label = rt.pool.labels[0]
    rec = rt.records.create(
        JOB,
        kind="imagine",
        params={"prompt": "a cat", "mode": "fast"},
        account=label,
        sig={"task": "mj.imagine"},
    )
    assert rt.guard.acquire(label, JOB).granted
    token = (hook_url(rt, rec) or "").rsplit("/hook/", 1)[1]
    assert rt.records.move(
        JOB,
        RecordState.NEW,
        RecordState.AMBIGUOUS,
        sent_at=rt.clock(),
        lost_at=rt.clock(),
        poll_seq=1,
    )
    answer = call(app, "POST", f"/hook/{token}", callback())
    assert answer.code == 200
    assert answer.json()["settled"] is True
    done = rt.records.load(JOB)
    assert done is not None
    assert (done.state, done.ttapi_job_id) == (RecordState.SUCCESS, TT_JOB)
    assert rt.redis.get(rt.keys.claim(TT_JOB)) == JOB


def video_callback(list_key: str, clips: list[str]) -> dict[str, Any]:
    """A video job's callback: the fetch shape of the simulator's video jobs."""
    listed: Any = clips[0] if list_key == "videoUrl" and len(clips) == 1 else clips
    return {
        "status": "SUCCESS",
        "jobId": TT_JOB,
        "message": "success",
        "data": {
            "action": "video",
            "jobId": TT_JOB,
            "progress": "100",
            "prompt": "a boat",
            "quota": "4",
            "mode": "fast",
            "hookUrl": "http://127.0.0.1:1/hook/x",
            "imageUrl": "https://cdn.example/frame.png",
            "endingUrl": None,
            "manual": "low",
            "resolution": "sd",
            "bs": len(clips),
            list_key: listed,
            "submitTime": "2026-03-12T07:34:36Z",
            "finishTime": "2026-03-12T07:35:36Z",
        },
    }


@pytest.mark.parametrize("list_key", ["videos", "videoUrl", "images", "cdnImages"])
@pytest.mark.parametrize("clips", [1, 4])
def test_a_video_callback_settles_its_job_with_the_clips_in_any_spelling(
    rt: Runtime, app: WSGIApplication, list_key: str, clips: int
) -> None:
    urls = [f"https://cdn.example/v/{n}.mp4" for n in range(clips)]
    token = submitted_job(rt, kind="video", params={"image": "https://x/f.png", "prompt": "p"})
    answer = call(app, "POST", f"/hook/{token}", video_callback(list_key, urls))
    assert (answer.code, answer.json()) == (200, {"ok": True, "settled": True})
    result = rt.records.load(JOB).result  # type: ignore[union-attr]
    assert (result["videos"], result["images"], result["action"]) == (urls, None, "video")
    assert result["finished_at"] == "2026-03-12T07:35:36+00:00"


def test_an_edit_callback_settles_its_job_with_its_four_images(
    rt: Runtime, app: WSGIApplication
) -> None:
    params = {"image": "https://x/f.png", "prompt": "in bronze", "type": "retexture"}
    token = submitted_job(rt, kind="edit", params=params)
    body = {
        "status": "SUCCESS",
        "message": "",
        "jobId": TT_JOB,
        "data": {
            "jobId": TT_JOB,
            "progress": "100",
            "mode": "fast",
            "prompt": "in bronze",
            "quota": "4",
            "images": [f"https://cdn.midjourney.example/{n}.png" for n in range(1, 5)],
            "cdnImages": [f"https://cdn.ttapi.example/{n}.png" for n in range(1, 5)],
            "hookUrl": None,
            "submitTime": "2026-03-12T07:34:36Z",
            "finishTime": "2026-03-12T07:35:36Z",
        },
    }
    answer = call(app, "POST", f"/hook/{token}", body)
    assert (answer.code, answer.json()) == (200, {"ok": True, "settled": True})
    result = rt.records.load(JOB).result  # type: ignore[union-attr]
    assert result["images"] == body["data"]["cdnImages"]
    assert (result["action"], result["videos"], result["image_url"]) == ("retexture", None, None)
    assert result["submitted_at"] == "2026-03-12T07:34:36+00:00"
