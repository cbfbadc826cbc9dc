"""Downloading a job result's images: the simulator's real image URLs, and scripted failures."""

from __future__ import annotations

import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from config.settings import Account, load_settings
from tests.support.scripted import Reply, ScriptedServer
from tests.support.simulators import KEY
from worker.devtools.simulator import Simulator
from worker.devtools.simulator.images import png_bytes
from worker.jobs.download import (
    DEFAULT_MAX_BYTES,
    TRANSIENT_ERRORS,
    ImageTooLarge,
    download_result,
    target_directory,
)
from worker.ttapi import errors
from worker.ttapi.client import TTAPIClient

PNG = png_bytes("scripted")


def finished_imagine(sim: Simulator, prompt: str = "a lighthouse at dawn") -> dict[str, Any]:
    """A job result (the keys download needs) of an imagine that reached SUCCESS."""
    client = TTAPIClient(Account.from_key(KEY), sim.url)
    job_id = client.imagine(prompt).job_id
    deadline = time.monotonic() + 10
    while (info := client.fetch(job_id)).status != "SUCCESS":
        assert time.monotonic() < deadline, f"job {job_id} still {info.status}"
        time.sleep(0.02)
    client.close()
    return {
        "job_id": job_id,
        "status": "SUCCESS",
        "image_url": info.cdn_image,
        "images": info.images,
        "prompt": info.prompt,
    }


def leftovers(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.name.endswith(".part")]


def scripted_result(server: ScriptedServer, job_id: str = "job-1") -> dict[str, Any]:
    return {"job_id": job_id, "image_url": f"{server.url}/img/{job_id}/0.png", "images": None}


def test_an_imagine_result_is_stored_as_five_files_whose_checksums_match_the_served_bytes(
    sim: Simulator,
    tmp_path: Path,
) -> None:
    result = finished_imagine(sim)
    out = download_result(result, tmp_path, allow_private=True)
    job_dir = tmp_path / result["job_id"]
    assert out["download_dir"] == str(job_dir)
    assert {k: out[k] for k in result} == result  # the input result passes through unchanged
    assert [Path(f["path"]).name for f in out["files"]] == [
        "main.png",
        "1.png",
        "2.png",
        "3.png",
        "4.png",
    ]
    for n, entry in enumerate(out["files"]):
        served = png_bytes(f"{result['job_id']}/{n}")
        stored = Path(entry["path"]).read_bytes()
        assert stored == served
        assert entry["sha256"] == hashlib.sha256(served).hexdigest()
        assert entry["bytes"] == len(served)
    assert sorted(p.name for p in job_dir.iterdir()) == [
        "1.png",
        "2.png",
        "3.png",
        "4.png",
        "main.png",
    ]
    assert leftovers(tmp_path) == []


def test_a_result_without_a_grid_stores_only_its_main_image(
    sim: Simulator,
    tmp_path: Path,
) -> None:
    result = {**finished_imagine(sim), "images": None}
    out = download_result(result, tmp_path, allow_private=True)
    assert [Path(f["path"]).name for f in out["files"]] == ["main.png"]


def test_a_rerun_keeps_files_that_are_already_there_with_the_same_size(
    sim: Simulator,
    tmp_path: Path,
) -> None:
    result = finished_imagine(sim)
    first = download_result(result, tmp_path, allow_private=True)
    stamps = {f["path"]: Path(f["path"]).stat().st_mtime_ns for f in first["files"]}
    second = download_result(result, tmp_path, allow_private=True)
    assert second["files"] == first["files"]
    assert {f["path"]: Path(f["path"]).stat().st_mtime_ns for f in second["files"]} == stamps


def test_an_existing_file_of_the_same_size_is_not_fetched_again_but_a_different_size_is(
    scripted: ScriptedServer,
    tmp_path: Path,
) -> None:
    result = scripted_result(scripted)
    scripted.push(Reply(200, PNG, headers={"Content-Type": "image/png"}))
    download_result(result, tmp_path, allow_private=True)
    same_size = bytes(len(PNG))  # another body of the same length: must not replace the file
    scripted.push(Reply(200, same_size, headers={"Content-Type": "image/png"}))
    kept = download_result(result, tmp_path, allow_private=True)
    assert Path(kept["files"][0]["path"]).read_bytes() == PNG
    assert kept["files"][0]["sha256"] == hashlib.sha256(PNG).hexdigest()
    scripted.push(Reply(200, PNG + b"more", headers={"Content-Type": "image/png"}))
    grown = download_result(result, tmp_path, allow_private=True)
    assert Path(grown["files"][0]["path"]).read_bytes() == PNG + b"more"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "failure",
    [Reply(503, "busy"), Reply(500, "oops"), Reply(429, "slow"), Reply(close=True)],
    ids=["503", "500", "429", "connection-dropped"],
)
def test_a_transient_failure_raises_a_transient_error_after_one_request_and_a_rerun_succeeds(
    scripted: ScriptedServer,
    tmp_path: Path,
    failure: Reply,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(time, "sleep", sleeps.append)  # retrying is Celery's job, not a sleep here
    scripted.push(failure, Reply(200, PNG, headers={"Content-Type": "image/png"}))
    result = scripted_result(scripted)
    with pytest.raises(TRANSIENT_ERRORS) as info:
        download_result(result, tmp_path, allow_private=True)
    assert result["image_url"] in str(info.value)
    assert len(scripted.requests) == 1 and sleeps == []
    assert leftovers(tmp_path) == []
    out = download_result(result, tmp_path, allow_private=True)
    assert Path(out["files"][0]["path"]).read_bytes() == PNG


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_a_4xx_other_than_429_is_a_permanent_error(
    scripted: ScriptedServer,
    tmp_path: Path,
    status: int,
) -> None:
    scripted.push(Reply(status, "no"))
    with pytest.raises(errors.APIStatusError) as info:
        download_result(scripted_result(scripted), tmp_path, allow_private=True)
    assert not isinstance(info.value, TRANSIENT_ERRORS)
    assert f"HTTP {status}" in str(info.value)


def test_a_404_fails_at_once_with_a_clear_error_and_leaves_no_file(
    sim: Simulator,
    tmp_path: Path,
) -> None:
    result = finished_imagine(sim)
    missing = {**result, "image_url": result["image_url"].replace("/0.png", "/9.png")}
    with pytest.raises(errors.NotFound, match=r"HTTP 404") as info:
        download_result(missing, tmp_path, allow_private=True)
    assert missing["image_url"] in str(info.value)
    assert list((tmp_path / result["job_id"]).iterdir()) == []


def test_a_failure_survives_its_message_alone_as_celery_rebuilds_it(
    scripted: ScriptedServer,
    tmp_path: Path,
) -> None:
    scripted.push(Reply(403, "forbidden"))
    with pytest.raises(errors.TTAPIError) as info:
        download_result(scripted_result(scripted), tmp_path, allow_private=True)
    rebuilt = type(info.value)(str(info.value))
    assert str(rebuilt) == str(info.value) and "HTTP 403" in str(rebuilt)


@pytest.mark.parametrize(
    "job_id", ["../escape", "a/b", "..", ".", ".hidden", "", "a\\b", "x\x00y", None]
)
def test_a_job_id_that_is_not_a_safe_path_component_is_refused_before_any_request(
    tmp_path: Path,
    job_id: Any,
) -> None:
    # Port 9 (discard) has no listener: any request would fail with ConnectError, not this.
    result = {"job_id": job_id, "image_url": "http://127.0.0.1:9/x.png", "images": None}
    with pytest.raises(errors.InvalidRequest, match="job_id"):
        download_result(result, tmp_path / "images", allow_private=True)
    assert list(tmp_path.iterdir()) == []


def test_a_result_with_no_image_is_refused_clearly(
    tmp_path: Path,
) -> None:
    with pytest.raises(errors.InvalidRequest, match="no image_url, images or videos"):
        download_result(
            {"job_id": "j1", "image_url": None, "images": None}, tmp_path, allow_private=True
        )


# --- size limit -----------------------------------------------------------------------------


class ChunkedServer:
    """Serves one body with chunked transfer encoding and no Content-Length, as some CDNs do."""

    def __init__(self, body: bytes, chunk: int = 1000, content_type: str = "image/png") -> None:
        self.sent = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for start in range(0, len(body), chunk):
                        part = body[start : start + chunk]
                        self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                        owner.sent += len(part)
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    pass  # the client hung up on a body it refused

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/img/job-1/0.png"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_the_size_limit_defaults_to_50_mib_and_is_read_from_mj_download_max_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().mj_download_max_bytes == DEFAULT_MAX_BYTES == 50 * 1024 * 1024
    monkeypatch.setenv("MJ_DOWNLOAD_MAX_BYTES", "1000")
    assert load_settings().mj_download_max_bytes == 1000


def test_an_image_announced_over_the_limit_is_refused_by_its_content_length_and_not_stored(
    scripted: ScriptedServer,
    tmp_path: Path,
) -> None:
    scripted.push(Reply(200, PNG, headers={"Content-Type": "image/png"}))
    result = scripted_result(scripted)
    with pytest.raises(ImageTooLarge, match="MJ_DOWNLOAD_MAX_BYTES") as info:
        download_result(result, tmp_path, allow_private=True, max_bytes=len(PNG) - 1)
    assert result["image_url"] in str(info.value) and str(len(PNG)) in str(info.value)
    assert "\n" not in str(info.value)
    assert not isinstance(info.value, TRANSIENT_ERRORS)
    assert list((tmp_path / "job-1").iterdir()) == []


def test_an_image_of_exactly_the_limit_is_stored(
    scripted: ScriptedServer,
    tmp_path: Path,
) -> None:
    scripted.push(Reply(200, PNG, headers={"Content-Type": "image/png"}))
    out = download_result(
        scripted_result(scripted), tmp_path, allow_private=True, max_bytes=len(PNG)
    )
    assert out["files"][0]["bytes"] == len(PNG)


def test_an_image_without_content_length_is_refused_while_streaming_once_past_the_limit(
    tmp_path: Path,
) -> None:
    server = ChunkedServer(bytes(200_000), chunk=1000)
    try:
        result = {"job_id": "job-1", "image_url": server.url, "images": None}
        with pytest.raises(ImageTooLarge, match="more than 5000 bytes"):
            download_result(result, tmp_path, allow_private=True, max_bytes=5000)
        assert list((tmp_path / "job-1").iterdir()) == []  # the .part file is gone too
        small = download_result(result, tmp_path, allow_private=True, max_bytes=200_000)
        assert small["files"][0]["bytes"] == 200_000
    finally:
        server.stop()


# --- where images may go: only under MJ_DOWNLOAD_DIR -----------------------------------------


@pytest.mark.parametrize(
    ("directory", "expected"),
    [
        (None, ""),
        ("", ""),
        (".", ""),
        ("batch-7", "batch-7"),
        ("a/b/c", "a/b/c"),
        ("a//b/./c/", "a/b/c"),
        ("{root}", ""),
        ("{root}/", ""),
        ("{root}/x/y", "x/y"),
        ("{root}/./x", "x"),
    ],
)
def test_the_directory_is_a_sub_folder_of_mj_download_dir(
    tmp_path: Path,
    directory: str | None,
    expected: str,
) -> None:
    root = tmp_path / "images"
    given = directory.format(root=root) if directory else directory
    assert target_directory(str(root), given) == root / expected


@pytest.mark.parametrize(
    ("directory", "rule"),
    [
        ("../x", "'..'"),
        ("a/../../x", "'..'"),
        ("..", "'..'"),
        ("a/..", "'..'"),
        ("/etc", "outside MJ_DOWNLOAD_DIR"),
        ("/", "outside MJ_DOWNLOAD_DIR"),
        ("{root}-other", "outside MJ_DOWNLOAD_DIR"),
        ("{root}/../x", "outside MJ_DOWNLOAD_DIR"),
        ("{tmp}", "outside MJ_DOWNLOAD_DIR"),
        ("a\x00b", "NUL"),
    ],
)
def test_a_directory_that_escapes_mj_download_dir_is_refused_in_one_line(
    tmp_path: Path,
    directory: str,
    rule: str,
) -> None:
    root = tmp_path / "images"
    with pytest.raises(errors.InvalidRequest) as info:
        target_directory(str(root), directory.format(root=root, tmp=tmp_path))
    message = str(info.value)
    assert message.startswith("directory: ") and rule in message and "\n" not in message


def test_a_symbolic_link_that_leads_out_of_mj_download_dir_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "images"
    root.mkdir()
    (root / "out").symlink_to(tmp_path)
    with pytest.raises(errors.InvalidRequest, match="outside MJ_DOWNLOAD_DIR"):
        target_directory(str(root), "out/x")
    with pytest.raises(errors.InvalidRequest, match="outside MJ_DOWNLOAD_DIR"):
        target_directory(str(root), str(root / "out"))


def test_a_directory_that_is_not_a_string_is_refused(tmp_path: Path) -> None:
    with pytest.raises(errors.InvalidRequest, match="directory: expected a string"):
        target_directory(str(tmp_path), 42)  # type: ignore[arg-type]


@pytest.mark.parametrize("root", [None, ""])
@pytest.mark.parametrize("directory", [None, "sub", "/tmp/images"])
def test_without_mj_download_dir_the_download_task_fails_naming_it(
    monkeypatch: pytest.MonkeyPatch,
    root: str | None,
    directory: str | None,
) -> None:
    import tasks

    monkeypatch.setattr(tasks.app.mj_settings, "mj_download_dir", root)
    result = {"job_id": "j1", "image_url": "http://127.0.0.1:9/x.png"}
    outcome = tasks.download.apply(args=[result], kwargs={"directory": directory})
    assert outcome.state == "FAILURE"
    assert isinstance(outcome.result, errors.InvalidRequest)
    assert str(outcome.result).startswith("MJ_DOWNLOAD_DIR: ")
    assert "\n" not in str(outcome.result)


# --- the task: Celery retries transient failures -------------------------------------------


@pytest.fixture
def download_task(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """`mj.download` with MJ_DOWNLOAD_DIR = tmp_path/images (run eagerly with `.apply`)."""
    import tasks

    monkeypatch.setattr(tasks.app.mj_settings, "mj_download_dir", str(tmp_path / "images"))
    monkeypatch.setattr(tasks.app.mj_settings, "mj_download_allow_private", True)  # 127.0.0.1
    return tasks.download


def test_the_download_task_stores_under_the_sub_folder_it_is_given(
    download_task: Any,
    scripted: ScriptedServer,
    tmp_path: Path,
) -> None:
    scripted.push(Reply(200, PNG, headers={"Content-Type": "image/png"}))
    outcome = download_task.apply(args=[scripted_result(scripted)], kwargs={"directory": "nightly"})
    assert outcome.state == "SUCCESS", outcome.result
    assert outcome.result["download_dir"] == str(tmp_path / "images" / "nightly" / "job-1")
    assert (tmp_path / "images" / "nightly" / "job-1" / "main.png").read_bytes() == PNG


def test_the_download_task_refuses_an_absolute_directory_outside_mj_download_dir(
    download_task: Any,
    scripted: ScriptedServer,
    tmp_path: Path,
) -> None:
    outcome = download_task.apply(
        args=[scripted_result(scripted)], kwargs={"directory": str(tmp_path / "elsewhere")}
    )
    assert outcome.state == "FAILURE"
    assert "outside MJ_DOWNLOAD_DIR" in str(outcome.result)
    assert scripted.requests == [] and not (tmp_path / "elsewhere").exists()


def test_the_download_task_retries_transient_failures_through_celery_without_sleeping(
    download_task: Any,
    scripted: ScriptedServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(time, "sleep", sleeps.append)
    scripted.push(
        Reply(503, "busy"),
        Reply(close=True),
        Reply(200, PNG, headers={"Content-Type": "image/png"}),
    )
    outcome = download_task.apply(args=[scripted_result(scripted)])
    assert outcome.state == "SUCCESS", outcome.result
    assert len(scripted.requests) == 3 and sleeps == []


def test_the_download_task_gives_up_after_its_retries_with_the_last_error(
    download_task: Any,
    scripted: ScriptedServer,
) -> None:
    tries = download_task.max_retries + 1
    scripted.push(*(Reply(502, "bad gateway") for _ in range(tries)))
    outcome = download_task.apply(args=[scripted_result(scripted)])
    assert outcome.state == "FAILURE"
    assert isinstance(outcome.result, errors.ServerError) and "HTTP 502" in str(outcome.result)
    assert len(scripted.requests) == tries


@pytest.mark.parametrize("reply", [Reply(404, "gone"), Reply(403, "forbidden")])
def test_the_download_task_does_not_retry_a_permanent_failure(
    download_task: Any,
    scripted: ScriptedServer,
    reply: Reply,
) -> None:
    scripted.push(reply, Reply(200, PNG))
    outcome = download_task.apply(args=[scripted_result(scripted)])
    assert outcome.state == "FAILURE" and len(scripted.requests) == 1


def test_the_download_task_retries_only_transient_errors_with_a_jittered_capped_backoff() -> None:
    import tasks
    from worker.jobs.timing import Timing

    task = tasks.download
    assert set(task.autoretry_for) == set(TRANSIENT_ERRORS)
    assert task.retry_backoff and task.retry_jitter and 3 <= task.max_retries <= 10
    # Retries are re-published with a countdown; Redis redelivers anything unacked for longer
    # than the visibility timeout, so the longest backoff stays well below it.
    settings = tasks.app.mj_settings
    longest = Timing.from_settings(settings).longest_countdown()
    assert task.retry_backoff_max <= 60 <= longest < settings.mj_visibility_timeout_s
