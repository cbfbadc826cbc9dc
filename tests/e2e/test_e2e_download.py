"""End to end: a pipeline whose last link, `mj.download` by name, stores the images on disk."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from celery.canvas import signature

from tests.support.scripted import Reply, ScriptedServer
from tests.support.stack import Stack
from worker.devtools.simulator.images import png_bytes

pytestmark = pytest.mark.e2e
KEY = "sk-e2e-download-0001"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The worker's MJ_DOWNLOAD_DIR."""
    return tmp_path / "store"


@pytest.fixture
def stack(make_stack: Callable[..., Stack], root: Path) -> Stack:
    # The simulator and the scripted server serve on 127.0.0.1: allow private addresses.
    env = {"MJ_DOWNLOAD_DIR": str(root), "MJ_DOWNLOAD_ALLOW_PRIVATE": "true"}
    return make_stack(keys=[KEY], capacity=10, fast_s=1.0, env=env)


def test_a_pipeline_ending_in_mj_download_stores_the_last_steps_images(
    stack: Stack,
    root: Path,
) -> None:
    from tasks import pipeline

    images = root / "images"  # an absolute path inside MJ_DOWNLOAD_DIR is that sub-folder
    sig = pipeline("a lighthouse at dawn", "upsample2") | signature(
        "mj.download", kwargs={"directory": str(images)}
    )
    result = sig.apply_async().get(timeout=60)
    assert result["action"] == "upsample2" and result["status"] == "SUCCESS"
    job_dir = images / result["job_id"]
    assert result["download_dir"] == str(job_dir)
    assert [Path(f["path"]).name for f in result["files"]] == ["main.png"]
    stored = (job_dir / "main.png").read_bytes()
    assert stored.startswith(b"\x89PNG")
    assert result["files"][0]["sha256"] == hashlib.sha256(stored).hexdigest()
    assert sorted(p.name for p in job_dir.iterdir()) == ["main.png"]


def test_an_imagine_sent_by_name_then_downloaded_stores_all_five_images(
    stack: Stack,
    root: Path,
) -> None:
    chain = signature("mj.imagine", kwargs={"prompt": "a red fox"}, app=stack.app) | signature(
        "mj.download", kwargs={"directory": "grid"}, app=stack.app
    )
    result = chain.apply_async().get(timeout=60)
    names = sorted(p.name for p in (root / "grid" / result["job_id"]).iterdir())
    assert names == ["1.png", "2.png", "3.png", "4.png", "main.png"]
    assert len(result["files"]) == 5


def test_a_download_outside_mj_download_dir_fails_and_writes_nothing(
    stack: Stack,
    tmp_path: Path,
    scripted: ScriptedServer,
) -> None:
    result = {"job_id": "job-1", "image_url": f"{scripted.url}/img/job-1/0.png"}
    sent = stack.send("mj.download", result, str(tmp_path / "elsewhere"))
    with pytest.raises(Exception, match="outside MJ_DOWNLOAD_DIR") as info:
        sent.get(timeout=30)
    assert type(info.value).__name__ == "InvalidRequest"
    assert not (tmp_path / "elsewhere").exists() and scripted.requests == []


def test_a_transient_failure_is_retried_by_celery_and_the_download_then_succeeds(
    stack: Stack,
    root: Path,
    scripted: ScriptedServer,
) -> None:
    png = png_bytes("retried")
    scripted.push(
        Reply(503, "busy"),
        Reply(close=True),
        Reply(200, png, headers={"Content-Type": "image/png"}),
    )
    result = {"job_id": "job-1", "image_url": f"{scripted.url}/img/job-1/0.png"}
    stored = stack.send("mj.download", result, "retried").get(timeout=30)
    assert (root / "retried" / "job-1" / "main.png").read_bytes() == png
    assert stored["files"][0]["sha256"] == hashlib.sha256(png).hexdigest()
    assert len(scripted.requests) == 3
    assert "Retry in" in "".join(node.log_path.read_text() for node in stack.nodes)


def test_a_video_result_is_stored_with_its_cover_and_its_mp4s(
    stack: Stack,
    root: Path,
    scripted: ScriptedServer,
) -> None:
    mp4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2\x00\x00\x00\x08free"
    png = png_bytes("cover")
    scripted.push(
        Reply(200, png, headers={"Content-Type": "image/png"}),
        Reply(200, mp4, headers={"Content-Type": "video/mp4"}),
    )
    result = {
        "job_id": "vid-1",
        "image_url": f"{scripted.url}/cover.png",
        "images": None,
        "videos": [f"{scripted.url}/video/0"],
    }
    stored = stack.send("mj.download", result, "videos").get(timeout=30)
    job_dir = root / "videos" / "vid-1"
    assert [Path(f["path"]).name for f in stored["files"]] == ["main.png", "video-1.mp4"]
    assert (job_dir / "video-1.mp4").read_bytes() == mp4
    assert stored["files"][1]["sha256"] == hashlib.sha256(mp4).hexdigest()


def test_a_worker_left_at_the_default_refuses_a_loopback_url_once_and_never_retries_it(
    make_stack: Callable[..., Stack],
    root: Path,
    scripted: ScriptedServer,
) -> None:
    strict = make_stack(keys=[KEY], capacity=10, fast_s=1.0, env={"MJ_DOWNLOAD_DIR": str(root)})
    result = {"job_id": "job-1", "image_url": f"{scripted.url}/img/job-1/0.png"}
    sent = strict.send("mj.download", result, "strict")
    with pytest.raises(Exception, match=r"download from 127\.0\.0\.1 refused") as info:
        sent.get(timeout=30)
    assert type(info.value).__name__ == "AddressRefused"
    assert "(loopback)" in str(info.value) and "MJ_DOWNLOAD_ALLOW_PRIVATE" in str(info.value)
    assert scripted.requests == [] and not list(root.rglob("*.png"))

    def logs() -> str:
        return "".join(node.log_path.read_text() for node in strict.nodes)

    strict.wait_for(lambda: "AddressRefused" in logs(), timeout=10)  # the failure is logged
    assert "Retry in" not in logs()
