"""Video and edit jobs on the in-process engine (tests/support/inline.py): each kind's happy
path, its validation, its place behind the account's cap, and every spelling TTAPI may use."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from config.settings import Account
from tests.support.engine import FAST, KEY_A, KEY_B, LABEL_A, LABEL_B, account, build_engine
from tests.support.inline import InlineEngine
from tests.support.simulators import SimFactory
from worker.devtools.simulator import Simulator
from worker.devtools.simulator.config import VIDEO_LIST_KEYS
from worker.devtools.simulator.images import png_bytes
from worker.jobs.record import RecordState
from worker.ttapi.client import TTAPIClient

FRAME = "https://cdn.example.com/frame.png"
PNG_URI = "data:image/png;base64," + base64.b64encode(png_bytes("a cat with a hole")).decode()


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A, KEY_B], capacity=3, fast_s=FAST)


@pytest.fixture
def eng(sim: Simulator) -> InlineEngine:
    return build_engine(sim, KEY_A, KEY_B, capacity=3)


def finished(eng: InlineEngine, kind: str, params: dict[str, Any], **opts: Any) -> dict[str, Any]:
    """Submit one job and run the engine until it ends; its result."""
    job = eng.submit(kind, params, **opts)
    assert eng.run_until(eng.done(job), 10)
    return eng.result(job)


def fetched(sim: Simulator, label: str, ttapi_job_id: str) -> dict[str, Any]:
    """The simulator's own view of a video job (its extra fields: imageUrl, bs, index...)."""
    key = KEY_A if label == LABEL_A else KEY_B
    info = TTAPIClient(Account.from_key(key), sim.url).fetch(ttapi_job_id, "video")
    return dict(info.model_extra or {})


@pytest.mark.slow
def test_a_video_from_an_image_url_ends_with_its_clips(eng: InlineEngine, sim: Simulator) -> None:
    result = finished(
        eng, "video", {"image": FRAME, "prompt": "a boat at sea", "batch": 2, "motion": "high"}
    )
    assert (result["kind"], result["action"], result["status"]) == ("video", "video", "SUCCESS")
    assert [url.rsplit("/", 1)[-1] for url in result["videos"]] == ["0.mp4", "1.mp4"]
    assert (result["images"], result["image_url"], result["parent_job_id"]) == (None, None, None)
    assert result["prompt"] == "a boat at sea" and result["mode"] == "fast"
    assert (
        result["submitted_at"].endswith("+00:00")
        and result["finished_at"] >= (result["submitted_at"])
    )
    extra = fetched(sim, result["account"], result["job_id"])
    assert (extra["imageUrl"], extra["manual"], extra["bs"]) == (FRAME, "high", 2)
    assert eng.holders(result["account"]) == 0


@pytest.mark.slow
def test_a_video_after_an_upscale_starts_from_its_image_on_the_parents_account(
    eng: InlineEngine, sim: Simulator
) -> None:
    grid = finished(eng, "imagine", {"prompt": "a fox", "mode": "fast"}, account=LABEL_B)
    up = finished(eng, "action", {"action": "upsample2"}, parent=grid)
    clip = finished(eng, "video", {"index": 0, "batch": 1}, parent=up)
    assert (clip["account"], clip["parent_job_id"], clip["prompt"]) == (
        LABEL_B,
        up["job_id"],
        up["prompt"],
    )
    assert len(clip["videos"]) == 1
    assert fetched(sim, LABEL_B, clip["job_id"])["imageUrl"] == up["image_url"]
    picked = finished(eng, "video", {"index": 3, "prompt": "wind"}, parent=grid["job_id"])
    assert fetched(sim, LABEL_B, picked["job_id"])["imageUrl"] == grid["images"][3]
    assert {j["label"] for j in sim.stats()["jobs"].values()} == {LABEL_B}


@pytest.mark.slow
def test_a_video_extend_continues_a_clip_of_its_parent_by_result_or_by_id(
    eng: InlineEngine, sim: Simulator
) -> None:
    video = finished(eng, "video", {"image": FRAME, "prompt": "a kite"}, account=LABEL_A)
    more = finished(eng, "video_extend", {"index": 3, "animate": "manual"}, parent=video)
    again = finished(eng, "video_extend", {"index": 0}, parent=more["job_id"])
    for result, parent in ((more, video), (again, more)):
        assert (result["action"], result["parent_job_id"], result["account"]) == (
            "video_extend",
            parent["job_id"],
            LABEL_A,
        )
        assert len(result["videos"]) == 4 and result["prompt"] == "a kite"
    extra = fetched(sim, LABEL_A, more["job_id"])
    assert (extra["index"], extra["animateMode"], extra["parentJobId"]) == (
        3,
        "manual",
        video["job_id"],
    )


@pytest.mark.parametrize(
    ("params", "action"),
    [
        ({"image": PNG_URI, "prompt": "blue eyes"}, "edit"),
        (
            {"image": FRAME, "prompt": "in bronze", "type": "retexture", "mode": "turbo"},
            "retexture",
        ),
    ],
    ids=["edit a data URI", "retexture a URL"],
)
def test_an_edit_ends_with_four_images(
    eng: InlineEngine, params: dict[str, Any], action: str
) -> None:
    result = finished(eng, "edit", params)
    assert (result["kind"], result["action"], result["videos"]) == ("edit", action, None)
    assert len(result["images"]) == 4 and all("/cdn" in url for url in result["images"])
    assert result["width"] and result["height"] and result["prompt"] == params["prompt"]
    assert result["mode"] == params.get("mode", "fast")


@pytest.mark.slow
def test_an_edit_handed_a_job_result_redraws_its_image(eng: InlineEngine) -> None:
    grid = finished(eng, "imagine", {"prompt": "a vase", "mode": "fast"})
    up = finished(eng, "action", {"action": "upsample1"}, parent=grid)
    job = eng.submit("edit", {"image": up, "prompt": "in glass", "type": "retexture"})
    assert eng.run_until(eng.done(job), 10)
    assert eng.result(job)["action"] == "retexture" and len(eng.result(job)["images"]) == 4
    rec = eng.rt.records.load(job)
    assert rec is not None and rec.params["image"] == up["image_url"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("edit", {"image": FRAME, "prompt": "in bronze", "type": "retexture"}),
        ("edit", {"image": FRAME, "prompt": "in silver"}),
        ("video", {"image": FRAME, "prompt": "a slow tide"}),
    ],
    ids=["retexture", "edit", "video"],
)
def test_a_lost_submit_answer_of_a_media_job_is_found_in_the_history_never_paid_twice(
    eng: InlineEngine, sim: Simulator, kind: str, params: dict[str, Any]
) -> None:
    sim.set_faults(rate_504_after_create=1.0, fault_paths=["image-edits", "video"])
    job = eng.submit(kind, params, account=LABEL_A)
    assert eng.run_until(eng.done(job), 15)
    assert eng.result(job)["status"] == "SUCCESS"
    assert account(sim)["submits"] == 1 and account(sim)["count_504"] == 1


INVALID: list[tuple[str, dict[str, Any], Any, str]] = [
    ("video", {"prompt": "a boat"}, None, "image: required"),
    ("video", {"image": "data:image/png;base64,iVBORw0KGgo=", "prompt": "a"}, None, "image: must"),
    ("video", {"image": FRAME, "prompt": "a", "batch": 3}, None, "batch: must be 1, 2 or 4"),
    ("video", {"image": FRAME, "prompt": "a", "resolution": "4k"}, None, "resolution"),
    ("video", {"image": FRAME, "prompt": "a"}, "grid", "image: give either image or parent"),
    ("video", {"prompt": "a"}, "grid", "index: job "),
    ("video", {"prompt": "a", "index": 1}, "upscale", "index: job "),
    ("video", {"prompt": "a"}, FRAME, "parent: a URL is not a job"),
    ("video_extend", {"index": 0}, "grid", "is not a video job"),
    ("video_extend", {"index": 2}, "clip", "index: job "),
    ("video_extend", {}, "clips", "index: required"),
    ("video_extend", {"index": 0, "motion": "wild"}, "clip", "motion: Input should be"),
    ("edit", {"image": FRAME}, None, "prompt: Field required"),
    ("edit", {"image": FRAME, "prompt": "a", "type": "repaint"}, None, "type: Input should be"),
    ("edit", {"image": "data:image/gif;base64,R0lGOD==", "prompt": "a"}, None, "image: must be"),
    ("edit", {"image": "grid", "prompt": "a"}, None, "made a grid of images: upscale one"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "params", "parent", "says"), INVALID)
def test_bad_video_and_edit_input_fails_naming_the_field_before_any_submit(
    eng: InlineEngine, sim: Simulator, kind: str, params: dict[str, Any], parent: Any, says: str
) -> None:
    parents = {
        "grid": lambda: finished(eng, "imagine", {"prompt": "a fox", "mode": "fast"}),
        "upscale": lambda: finished(
            eng, "action", {"action": "upsample1"}, parent=parents["grid"]()
        ),
        "clip": lambda: finished(eng, "video", {"image": FRAME, "prompt": "p", "batch": 2}),
        "clips": lambda: finished(eng, "video", {"image": FRAME, "prompt": "p"}),
    }
    given = parents[parent]() if parent in parents else parent
    if params.get("image") in parents:  # an edit handed a job result in a chain
        params = {**params, "image": parents[params["image"]]()}
    before = account(sim)["submits"] + account(sim, LABEL_B)["submits"]
    job = eng.submit(kind, params, parent=given)
    assert says in eng.error(job)
    assert eng.rt.records.load(job) is None
    assert account(sim)["submits"] + account(sim, LABEL_B)["submits"] == before


@pytest.mark.slow
@pytest.mark.parametrize("list_key", VIDEO_LIST_KEYS)
def test_a_videos_clips_reach_the_result_whatever_the_fetch_calls_them(
    eng: InlineEngine, sim: Simulator, list_key: str
) -> None:
    sim.set_faults(video_list_key=list_key)
    for batch in (1, 4):
        result = finished(eng, "video", {"image": FRAME, "prompt": "a gull", "batch": batch})
        assert len(result["videos"]) == batch and result["images"] is None
        assert all(url.endswith(".mp4") for url in result["videos"])


@pytest.mark.slow
@pytest.mark.parametrize("id_key", ["jobId", "job_id"])
def test_every_new_kind_runs_whichever_way_the_submit_spells_the_id(
    eng: InlineEngine, sim: Simulator, id_key: str
) -> None:
    sim.set_faults(submit_id_key=id_key)
    video = finished(eng, "video", {"image": FRAME, "prompt": "a gull", "batch": 1})
    more = finished(eng, "video_extend", {"index": 0}, parent=video)
    edit = finished(eng, "edit", {"image": FRAME, "prompt": "a hat"})
    assert [r["action"] for r in (video, more, edit)] == ["video", "video_extend", "edit"]
    assert len({video["job_id"], more["job_id"], edit["job_id"]}) == 3


@pytest.mark.slow
def test_video_and_edit_jobs_wait_behind_a_full_account_like_image_jobs(
    eng: InlineEngine, sim: Simulator
) -> None:
    grid = finished(eng, "imagine", {"prompt": "a fox", "mode": "fast"}, account=LABEL_A)
    video = finished(eng, "video", {"image": FRAME, "prompt": "a boat"}, account=LABEL_A)
    sim.reset_stats()
    busy = [
        eng.submit("imagine", {"prompt": f"a busy tower {i}", "mode": "fast"}, account=LABEL_A)
        for i in range(3)
    ]
    late = [
        eng.submit("video", {"index": 1}, parent=grid),
        eng.submit("video_extend", {"index": 2}, parent=video),
        eng.submit("edit", {"image": FRAME, "prompt": "a hat"}, account=LABEL_A),
        eng.submit("video", {"image": FRAME, "prompt": "a gull"}, account=LABEL_A),
    ]
    assert all(eng.state(j) == RecordState.WAITING for j in late)
    shown = [eng.dispatcher.states[j][0] for j in late]
    assert [(state, meta["position"]) for state, meta in shown] == [
        ("WAITING", 1),
        ("WAITING", 2),
        ("WAITING", 3),
        ("WAITING", 4),
    ]
    assert eng.run_until(eng.all_done, 20)
    assert all(eng.result(j)["status"] == "SUCCESS" for j in [*busy, *late])
    stats = account(sim)
    assert (stats["peak_in_progress"], stats["count_499"]) == (3, 0)
    assert eng.holders(LABEL_A) == 0


@pytest.mark.slow
def test_a_video_from_a_parent_refuses_an_account_other_than_the_parents(
    eng: InlineEngine, sim: Simulator
) -> None:
    grid = finished(eng, "imagine", {"prompt": "a fox", "mode": "fast"}, account=LABEL_B)
    job = eng.submit("video", {"index": 0}, parent=grid, account=LABEL_A)
    assert f"account: job {grid['job_id']} was made on {LABEL_B}" in eng.error(job)
    same = finished(eng, "video", {"index": 0}, parent=grid, account=LABEL_B)
    assert same["account"] == LABEL_B and account(sim, LABEL_A)["submits"] == 0
