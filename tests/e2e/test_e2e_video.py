"""End to end: `mj.video`, `mj.video_extend` and `mj.edit` against the simulator, with a real
redis-server and celery workers: alone, chained after an upsample, and behind a full account."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from celery.canvas import signature

from tests.support.stack import Stack
from worker.devtools.simulator.images import png_bytes

pytestmark = pytest.mark.e2e
KEY_A, KEY_B = "sk-e2e-video-a-0001", "sk-e2e-video-b-0002"
FRAME = "https://cdn.example.com/frame.png"
PNG_URI = "data:image/png;base64," + base64.b64encode(png_bytes("a vase with a hole")).decode()


def task(stack: Stack, name: str, **kwargs: Any) -> Any:
    """A signature by name only, as another service would build it."""
    return signature(name, kwargs=kwargs, app=stack.app)


def test_each_new_task_runs_alone_and_its_clips_download(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    root = tmp_path / "store"
    env = {"MJ_DOWNLOAD_DIR": str(root), "MJ_DOWNLOAD_ALLOW_PRIVATE": "true"}
    s = make_stack(keys=[KEY_A], capacity=10, fast_s=1.0, env=env)
    video = s.send("mj.video", image=FRAME, prompt="a boat at sea", batch=2, motion="high")
    edit = s.send("mj.edit", image=PNG_URI, prompt="blue glass")
    retexture = s.send("mj.edit", image=FRAME, prompt="in bronze", type="retexture")
    clips = video.get(timeout=60)
    assert (clips["action"], clips["images"], len(clips["videos"])) == ("video", None, 2)
    longer = (
        task(s, "mj.video_extend", parent=clips, index=1, animate="manual")
        | task(s, "mj.download", directory="clips")
    ).apply_async()
    stored = longer.get(timeout=60)
    assert stored["action"] == "video_extend" and stored["parent_job_id"] == clips["job_id"]
    names = sorted(Path(f["path"]).name for f in stored["files"])
    assert names == [f"video-{n}.mp4" for n in range(1, 5)]
    assert all((root / "clips" / stored["job_id"] / n).read_bytes()[4:8] == b"ftyp" for n in names)
    for result, action in (
        (edit.get(timeout=60), "edit"),
        (retexture.get(timeout=60), "retexture"),
    ):
        assert (result["action"], len(result["images"]), result["videos"]) == (action, 4, None)
    jobs = s.sim.stats()["jobs"].values()
    assert sorted(j["action"] for j in jobs) == ["edit", "retexture", "video", "video_extend"]
    assert s.holders(s.labels[0]) == 0


def test_video_and_edit_follow_an_upsample_on_its_account(
    make_stack: Callable[..., Stack],
) -> None:
    s = make_stack(keys=[KEY_A, KEY_B], capacity=10, fast_s=1.0)
    movie = (
        task(s, "mj.imagine", prompt="a lighthouse in a storm")
        | task(s, "mj.action", action="upsample2")
        | task(s, "mj.video", index=0, batch=1)
        | task(s, "mj.video_extend", index=0)
    ).apply_async()
    restyled = (
        task(s, "mj.imagine", prompt="a copper kettle")
        | task(s, "mj.action", action="upsample1")
        | task(s, "mj.edit", prompt="in porcelain", type="retexture")
    ).apply_async()
    longer, porcelain = movie.get(timeout=90), restyled.get(timeout=90)
    assert longer["action"] == "video_extend" and len(longer["videos"]) == 4
    assert longer["prompt"] == "a lighthouse in a storm"
    assert porcelain["action"] == "retexture" and len(porcelain["images"]) == 4
    jobs = s.sim.stats()["jobs"]
    [clip] = [j for j in jobs.values() if j["action"] == "video"]
    assert jobs[longer["parent_job_id"]]["action"] == "video"
    # Every follow-up of the movie ran on the account of its imagine.
    movie_jobs = [j for j in jobs.values() if j["prompt"] == "a lighthouse in a storm"]
    assert len(movie_jobs) == 4 and len({j["label"] for j in movie_jobs}) == 1
    assert clip in movie_jobs

    argv = ["submit", "a red fox", "--then", "upsample2", "--then", "video:high,batch=2"]
    cli = subprocess.run(
        [sys.executable, "-m", "worker.cli", *argv, "--json"],
        env={**os.environ, **s.env},
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert cli.returncode == 0, cli.stderr
    result = json.loads(cli.stdout)
    assert (result["action"], len(result["videos"])) == ("video", 2)


def test_video_and_edit_jobs_park_behind_a_full_account_and_then_run(
    make_stack: Callable[..., Stack],
) -> None:
    s = make_stack(keys=[KEY_A], capacity=2, fast_s=2.0)
    label = s.labels[0]
    first = s.send("mj.video", image=FRAME, prompt="a gull", batch=1).get(timeout=60)
    busy = [s.send("mj.imagine", f"a busy harbour {i}") for i in range(2)]
    s.wait_for(lambda: s.sim.stats()["accounts"][label]["in_progress"] == 2)
    late = [
        s.send("mj.video", image=FRAME, prompt="a slow tide"),
        s.send("mj.video_extend", first, index=0),
        s.send("mj.edit", image=FRAME, prompt="a hat"),
    ]
    seen: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 30
    while len(seen) < len(late) and time.monotonic() < deadline:
        for r in late:
            if r.id not in seen and r.state == "WAITING":
                seen[r.id] = dict(r.info)
        time.sleep(0.05)
    assert len(seen) == 3, s.logs()
    assert {info["account"] for info in seen.values()} == {label}
    results = [r.get(timeout=90) for r in [*busy, *late]]
    assert [r["status"] for r in results] == ["SUCCESS"] * 5
    stats = s.sim.stats()["accounts"][label]
    assert (stats["peak_in_progress"], stats["count_499"]) == (2, 0)
    assert s.holders(label) == 0
