"""End to end: a pipeline whose last link, `mj.download` by name, stores the images on disk."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from celery.canvas import signature

from tests.stack import Stack

pytestmark = pytest.mark.e2e
KEY = "sk-e2e-download-0001"


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    return make_stack(keys=[KEY], capacity=10, fast_s=1.0)


def test_a_pipeline_ending_in_mj_download_stores_the_last_steps_images(
    stack: Stack, tmp_path: Path,
) -> None:
    from tasks import pipeline

    images = tmp_path / "images"
    sig = pipeline("a lighthouse at dawn", "upsample2") | signature(
        "mj.download", kwargs={"directory": str(images)})
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
    stack: Stack, tmp_path: Path,
) -> None:
    images = tmp_path / "grid"
    chain = (signature("mj.imagine", kwargs={"prompt": "a red fox"}, app=stack.app)
             | signature("mj.download", kwargs={"directory": str(images)}, app=stack.app))
    result = chain.apply_async().get(timeout=60)
    names = sorted(p.name for p in (images / result["job_id"]).iterdir())
    assert names == ["1.png", "2.png", "3.png", "4.png", "main.png"]
    assert len(result["files"]) == 5
