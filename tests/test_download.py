"""Downloading a job result's images: the simulator's real image URLs, and scripted failures."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from config.settings import Account
from tests.scripted import Reply, ScriptedServer
from worker import errors
from worker.client import TTAPIClient
from worker.download import download_result, extension
from worker.simulator import SimConfig, Simulator
from worker.simulator.images import png_bytes

KEY = "sk-download-test-0001"
PNG = png_bytes("scripted")


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(SimConfig(keys=[KEY], capacity=10, fast_s=0.2)) as running:
        yield running


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def finished_imagine(sim: Simulator, prompt: str = "a lighthouse at dawn") -> dict[str, Any]:
    """A job result (the keys download needs) of an imagine that reached SUCCESS."""
    client = TTAPIClient(Account.from_key(KEY), sim.url)
    job_id = client.imagine(prompt).job_id
    deadline = time.monotonic() + 10
    while (info := client.fetch(job_id)).status != "SUCCESS":
        assert time.monotonic() < deadline, f"job {job_id} still {info.status}"
        time.sleep(0.02)
    client.close()
    return {"job_id": job_id, "status": "SUCCESS", "image_url": info.cdn_image,
            "images": info.images, "prompt": info.prompt}


def leftovers(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.name.endswith(".part")]


def scripted_result(server: ScriptedServer, job_id: str = "job-1") -> dict[str, Any]:
    return {"job_id": job_id, "image_url": f"{server.url}/img/{job_id}/0.png", "images": None}


def test_an_imagine_result_is_stored_as_five_files_whose_checksums_match_the_served_bytes(
    sim: Simulator, session: requests.Session, tmp_path: Path,
) -> None:
    result = finished_imagine(sim)
    out = download_result(result, tmp_path, session=session)
    job_dir = tmp_path / result["job_id"]
    assert out["download_dir"] == str(job_dir)
    assert {k: out[k] for k in result} == result  # the input result passes through unchanged
    assert [Path(f["path"]).name for f in out["files"]] == [
        "main.png", "1.png", "2.png", "3.png", "4.png"]
    for n, entry in enumerate(out["files"]):
        served = png_bytes(f"{result['job_id']}/{n}")
        stored = Path(entry["path"]).read_bytes()
        assert stored == served
        assert entry["sha256"] == hashlib.sha256(served).hexdigest()
        assert entry["bytes"] == len(served)
    assert sorted(p.name for p in job_dir.iterdir()) == [
        "1.png", "2.png", "3.png", "4.png", "main.png"]
    assert leftovers(tmp_path) == []


def test_a_result_without_a_grid_stores_only_its_main_image(
    sim: Simulator, session: requests.Session, tmp_path: Path,
) -> None:
    result = {**finished_imagine(sim), "images": None}
    out = download_result(result, tmp_path, session=session)
    assert [Path(f["path"]).name for f in out["files"]] == ["main.png"]


def test_a_rerun_keeps_files_that_are_already_there_with_the_same_size(
    sim: Simulator, session: requests.Session, tmp_path: Path,
) -> None:
    result = finished_imagine(sim)
    first = download_result(result, tmp_path, session=session)
    stamps = {f["path"]: Path(f["path"]).stat().st_mtime_ns for f in first["files"]}
    second = download_result(result, tmp_path, session=session)
    assert second["files"] == first["files"]
    assert {f["path"]: Path(f["path"]).stat().st_mtime_ns for f in second["files"]} == stamps


def test_an_existing_file_of_the_same_size_is_not_fetched_again_but_a_different_size_is(
    scripted: ScriptedServer, session: requests.Session, tmp_path: Path,
) -> None:
    result = scripted_result(scripted)
    scripted.push(Reply(200, PNG, headers={"Content-Type": "image/png"}))
    download_result(result, tmp_path, session=session)
    same_size = bytes(len(PNG))  # another body of the same length: must not replace the file
    scripted.push(Reply(200, same_size, headers={"Content-Type": "image/png"}))
    kept = download_result(result, tmp_path, session=session)
    assert Path(kept["files"][0]["path"]).read_bytes() == PNG
    assert kept["files"][0]["sha256"] == hashlib.sha256(PNG).hexdigest()
    scripted.push(Reply(200, PNG + b"more", headers={"Content-Type": "image/png"}))
    grown = download_result(result, tmp_path, session=session)
    assert Path(grown["files"][0]["path"]).read_bytes() == PNG + b"more"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("failure", [Reply(503, "busy"), Reply(500, "oops"), Reply(close=True)],
                         ids=["503", "500", "connection-dropped"])
def test_a_transient_failure_is_retried_with_a_growing_backoff_and_then_succeeds(
    scripted: ScriptedServer, session: requests.Session, tmp_path: Path, failure: Reply,
) -> None:
    scripted.push(failure, failure, Reply(200, PNG, headers={"Content-Type": "image/png"}))
    sleeps: list[float] = []
    out = download_result(scripted_result(scripted), tmp_path, session=session,
                          backoff=0.01, sleep=sleeps.append)
    assert Path(out["files"][0]["path"]).read_bytes() == PNG
    assert sleeps == [0.01, 0.02]
    assert len(scripted.requests) == 3
    assert leftovers(tmp_path) == []


def test_a_download_gives_up_after_its_attempts_naming_the_url_and_the_status(
    scripted: ScriptedServer, session: requests.Session, tmp_path: Path,
) -> None:
    scripted.push(*(Reply(502, "bad gateway") for _ in range(3)))
    result = scripted_result(scripted)
    with pytest.raises(errors.ServerError, match="gave up after 3 attempts") as info:
        download_result(result, tmp_path, session=session, backoff=0.001)
    assert result["image_url"] in str(info.value) and "HTTP 502" in str(info.value)
    assert len(scripted.requests) == 3


def test_a_404_fails_at_once_with_a_clear_error_and_leaves_no_file(
    sim: Simulator, session: requests.Session, tmp_path: Path,
) -> None:
    result = finished_imagine(sim)
    missing = {**result, "image_url": result["image_url"].replace("/0.png", "/9.png")}
    sleeps: list[float] = []
    with pytest.raises(errors.NotFound, match=r"HTTP 404") as info:
        download_result(missing, tmp_path, session=session, sleep=sleeps.append)
    assert missing["image_url"] in str(info.value)
    assert sleeps == []
    assert list((tmp_path / result["job_id"]).iterdir()) == []


def test_a_failure_survives_its_message_alone_as_celery_rebuilds_it(
    scripted: ScriptedServer, session: requests.Session, tmp_path: Path,
) -> None:
    scripted.push(Reply(403, "forbidden"))
    with pytest.raises(errors.TTAPIError) as info:
        download_result(scripted_result(scripted), tmp_path, session=session)
    rebuilt = type(info.value)(str(info.value))
    assert str(rebuilt) == str(info.value) and "HTTP 403" in str(rebuilt)


@pytest.mark.parametrize("job_id", ["../escape", "a/b", "..", ".", ".hidden", "", "a\\b",
                                    "x\x00y", None])
def test_a_job_id_that_is_not_a_safe_path_component_is_refused_before_any_request(
    session: requests.Session, tmp_path: Path, job_id: Any,
) -> None:
    # Port 9 (discard) has no listener: any request would fail with ConnectError, not this.
    result = {"job_id": job_id, "image_url": "http://127.0.0.1:9/x.png", "images": None}
    with pytest.raises(errors.InvalidRequest, match="job_id"):
        download_result(result, tmp_path / "images", session=session)
    assert list(tmp_path.iterdir()) == []


def test_a_result_with_no_image_is_refused_clearly(
    session: requests.Session, tmp_path: Path,
) -> None:
    with pytest.raises(errors.InvalidRequest, match="no image_url and no images"):
        download_result({"job_id": "j1", "image_url": None, "images": None}, tmp_path,
                        session=session)


@pytest.mark.parametrize(("url", "content_type", "ext"), [
    ("https://cdn.example/a/b.png", "image/jpeg", "png"),
    ("https://cdn.example/a/b.JPEG?x=1", None, "jpg"),
    ("https://cdn.example/a/b.webp", None, "webp"),
    ("https://cdn.example/a/b", "image/jpeg", "jpg"),
    ("https://cdn.example/a/b", "image/webp; charset=binary", "webp"),
    ("https://cdn.example/a/b.php", "text/html", "png"),
    ("https://cdn.example/a/b", None, "png"),
])
def test_the_extension_comes_from_the_url_then_the_content_type_then_defaults_to_png(
    url: str, content_type: str | None, ext: str,
) -> None:
    assert extension(url, content_type) == ext


def test_the_download_task_refuses_to_run_without_a_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tasks

    monkeypatch.setattr(tasks.app.mj_settings, "mj_download_dir", None)
    with pytest.raises(errors.InvalidRequest, match="MJ_DOWNLOAD_DIR"):
        tasks.download({"job_id": "j1", "image_url": "http://127.0.0.1:1/x.png"})
