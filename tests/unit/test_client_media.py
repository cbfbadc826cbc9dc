"""The client's video and edit endpoints against the simulator, in every spelling it answers."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from config.settings import Account
from tests.support.simulators import KEY, LABEL
from worker.devtools.simulator import Simulator
from worker.devtools.simulator.config import SUBMIT_ID_KEYS, VIDEO_LIST_KEYS
from worker.ttapi import errors
from worker.ttapi.client import TTAPIClient
from worker.ttapi.responses import JobInfo

FRAME = "https://cdn.example.com/frame.png"


@pytest.fixture
def client(sim: Simulator) -> Iterator[TTAPIClient]:
    c = TTAPIClient(Account.from_key(KEY), sim.url, read_timeout=5.0)
    try:
        yield c
    finally:
        c.close()


def finish(client: TTAPIClient, job_id: str, kind: str, timeout: float = 10.0) -> JobInfo:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = client.fetch(job_id, kind)
        if info.finished:
            return info
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


@pytest.mark.slow
@pytest.mark.parametrize("id_key", SUBMIT_ID_KEYS)
def test_video_extend_and_edit_round_trip_whatever_the_submit_calls_the_id(
    sim: Simulator, client: TTAPIClient, id_key: str
) -> None:
    sim.set_faults(submit_id_key=id_key)
    video = finish(
        client, client.start("video", image=FRAME, prompt="a boat", batch=2).job_id, "video"
    )
    assert (video.status, video.action, video.videos and len(video.videos)) == (
        "SUCCESS",
        "video",
        2,
    )
    assert video.submit_time is not None and video.finish_time is not None
    longer = finish(
        client, client.start("video_extend", job_id=video.job_id, index=1).job_id, "video_extend"
    )
    assert longer.action == "video_extend" and len(longer.videos or []) == 4
    edit = finish(
        client, client.start("edit", image=FRAME, prompt="a hat", type="retexture").job_id, "edit"
    )
    assert edit.status == "SUCCESS" and len(edit.images or []) == 4
    assert len(edit.cdn_images or []) == 4 and edit.width and edit.height


@pytest.mark.slow
@pytest.mark.parametrize("list_key", VIDEO_LIST_KEYS)
def test_a_videos_clips_are_read_whatever_the_fetch_calls_the_list(
    sim: Simulator, client: TTAPIClient, list_key: str
) -> None:
    sim.set_faults(video_list_key=list_key)
    for batch in (1, 4):
        info = finish(
            client, client.start("video", image=FRAME, prompt="a kite", batch=batch).job_id, "video"
        )
        clips = {"videos": info.videos, "videoUrl": info.videos}.get(
            list_key, info.images if list_key == "images" else info.cdn_images
        )
        assert clips is not None and len(clips) == batch
        assert all(url.endswith(".mp4") for url in clips)


def test_an_edit_is_fetched_at_its_own_path_which_knows_no_image_job(
    client: TTAPIClient,
) -> None:
    edit = client.start("edit", image=FRAME, prompt="a hat").job_id
    assert finish(client, edit, "edit").status == "SUCCESS"
    with pytest.raises(errors.NotFound):
        client.fetch(edit, "imagine")


def test_a_refused_video_submit_names_its_endpoint(client: TTAPIClient) -> None:
    with pytest.raises(errors.BadRequest) as info:
        client.start("video_extend", job_id="no-such-job", index=0)
    assert info.value.endpoint == "video-extend"
    assert "not found" in str(info.value)


def test_a_video_submit_refused_by_our_own_checks_sends_nothing(
    sim: Simulator, client: TTAPIClient
) -> None:
    with pytest.raises(errors.InvalidRequest, match="batch: must be 1, 2 or 4"):
        client.start("video", image=FRAME, prompt="a boat", batch=3)
    assert sim.stats()["accounts"][LABEL]["requests"] == 0
