"""Video and edit requests refuse bad input early; their answers parse in every spelling."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from worker.devtools.simulator import config as sim_config
from worker.ttapi import errors, kinds
from worker.ttapi.kinds import check_inline_sizes
from worker.ttapi.kinds.edits import EditRequest
from worker.ttapi.kinds.videos import VideoExtendRequest, VideoRequest
from worker.ttapi.requests import validate
from worker.ttapi.responses import Envelope, JobInfo, SubmitResult

PNG = "data:image/png;base64,iVBORw0KGgo="
URL = "https://cdn.example.com/start.png"


@pytest.mark.parametrize(
    ("model", "fields", "body"),
    [
        (
            VideoRequest,
            {"image": URL, "prompt": " a boat ", "motion": "high", "resolution": "hd", "batch": 2},
            {"imageUrl": URL, "prompt": "a boat", "manual": "high", "resolution": "hd", "bs": 2},
        ),
        (
            VideoRequest,
            {"image": URL, "prompt": "a boat", "end_image": URL + "?end"},
            {"imageUrl": URL, "prompt": "a boat", "endingUrl": URL + "?end"},
        ),
        (
            VideoExtendRequest,
            {"job_id": "v1", "index": 3, "animate": "manual"},
            {"jobId": "v1", "index": 3, "animateMode": "manual"},
        ),
        (
            EditRequest,
            {"image": PNG, "prompt": "blue eyes", "type": "retexture", "mode": "relax"},
            {"image": PNG, "prompt": "blue eyes", "type": "retexture", "mode": "relax"},
        ),
        (EditRequest, {"image": URL, "prompt": "a hat"}, {"image": URL, "prompt": "a hat"}),
    ],
)
def test_valid_media_requests_render_ttapis_spelling(
    model: type, fields: dict[str, Any], body: dict[str, Any]
) -> None:
    rendered = validate(model, **fields).body()
    assert {k: v for k, v in rendered.items() if k in body} == body
    assert not {"image_url", "end_image", "motion", "batch", "job_id", "animate"} & set(rendered)


INVALID: list[tuple[type, dict[str, Any], str]] = [
    (VideoRequest, {"prompt": "a boat"}, "image: Field required"),
    (VideoRequest, {"image": URL, "prompt": "  "}, "prompt: must not be empty"),
    (VideoRequest, {"image": "ftp://x/y.png", "prompt": "a"}, "image: must be a public http(s)"),
    (VideoRequest, {"image": PNG, "prompt": "a"}, "image: must be a public http(s) URL (TTAPI"),
    (VideoRequest, {"image": URL, "prompt": "a", "end_image": "x"}, "end_image: must be a"),
    (VideoRequest, {"image": URL, "prompt": "a", "motion": "fast"}, "motion: Input should be"),
    (VideoRequest, {"image": URL, "prompt": "a", "resolution": "4k"}, "resolution: Input"),
    (VideoRequest, {"image": URL, "prompt": "a", "batch": 3}, "batch: must be 1, 2 or 4"),
    (VideoRequest, {"image": URL, "prompt": "a", "batch": True}, "batch: must be 1, 2 or 4"),
    (VideoRequest, {"image": URL + "x" * 5000, "prompt": "a"}, "image: must be at most 4096"),
    (VideoExtendRequest, {"job_id": "v", "index": 4}, "index: Input should be less than"),
    (VideoExtendRequest, {"job_id": "v", "index": "1"}, "index: Input should be a valid int"),
    (VideoExtendRequest, {"job_id": "v", "index": 0, "animate": "x"}, "animate: Input"),
    (EditRequest, {"image": URL}, "prompt: Field required"),
    (EditRequest, {"image": URL, "prompt": "a", "type": "paint"}, "type: Input should be"),
    (EditRequest, {"image": "a.png", "prompt": "a"}, "image: must be an http(s) URL or a data"),
    (EditRequest, {"image": "data:image/gif;base64,R0lG", "prompt": "a"}, "image: must be an"),
    (EditRequest, {"image": "data:image/png;base64,!!", "prompt": "a"}, "image: must be a data"),
    (EditRequest, {"image": URL, "prompt": "a", "mode": "slow"}, "mode: Input should be"),
]


@pytest.mark.parametrize(("model", "fields", "says"), INVALID)
def test_invalid_media_requests_fail_naming_the_field_and_the_rule(
    model: type, fields: dict[str, Any], says: str
) -> None:
    with pytest.raises(errors.InvalidRequest) as info:
        validate(model, **fields)
    assert says in str(info.value)


def test_an_edit_image_over_the_inline_limit_is_refused_and_a_url_is_not_measured() -> None:
    big = "data:image/png;base64," + "A" * 8000
    with pytest.raises(errors.InvalidRequest, match=r"image: the image is 6,000 bytes"):
        check_inline_sizes("edit", {"image": big}, 4000)
    check_inline_sizes("edit", {"image": "https://cdn.example.com/" + "a" * 8000}, 4000)


@pytest.mark.parametrize(
    ("kind", "params", "video", "path", "action"),
    [
        ("imagine", {}, False, "/midjourney/v1/fetch", "imagine"),
        ("action", {"action": "upsample2"}, False, "/midjourney/v1/fetch", "upsample2"),
        ("video", {}, True, "/midjourney/v1/fetch", "video"),
        ("video_extend", {"index": 0}, True, "/midjourney/v1/fetch", "video_extend"),
        ("edit", {}, False, "/midjourney/image-edits/fetch", "edit"),
        ("edit", {"type": "retexture"}, False, "/midjourney/image-edits/fetch", "retexture"),
    ],
)
def test_each_kind_says_whether_it_is_video_where_it_is_fetched_and_its_action(
    kind: str, params: dict[str, Any], video: bool, path: str, action: str
) -> None:
    assert kind in kinds.SPECS and kind in kinds.KINDS
    assert kinds.is_video_kind(kind) is video
    assert kinds.fetch_path(kind) == path
    assert kinds.ttapi_action(kind, params) == action


def test_the_video_fetch_path_is_the_one_the_simulator_serves() -> None:
    assert kinds.VIDEO_FETCH_PATH == sim_config.VIDEO_FETCH_PATH


CLIPS = ["https://v/0.mp4", "https://v/1.mp4"]


@pytest.mark.parametrize(
    ("data", "videos", "images"),
    [
        ({"videos": CLIPS}, CLIPS, None),
        ({"videoUrl": CLIPS}, CLIPS, None),
        ({"videoUrl": CLIPS[0]}, CLIPS[:1], None),
        ({"images": CLIPS}, None, CLIPS),
        ({"videos": None}, None, None),
        ({"videoUrl": ""}, None, None),
    ],
    ids=["videos", "videoUrl list", "videoUrl string", "images", "null", "empty"],
)
def test_a_video_list_parses_in_every_spelling(
    data: dict[str, Any], videos: list[str] | None, images: list[str] | None
) -> None:
    env = Envelope.model_validate({"status": "SUCCESS", "jobId": "v1", "data": data})
    info = JobInfo.from_envelope(env)
    assert (info.videos, info.images, info.job_id) == (videos, images, "v1")


def test_an_edit_answer_keeps_both_image_lists_and_its_times() -> None:
    body = {
        "status": "SUCCESS",
        "message": "",
        "jobId": "e1",
        "data": {
            "jobId": "e1",
            "progress": "100",
            "mode": "fast",
            "prompt": "blue eyes",
            "quota": "4",
            "images": ["https://cdn.midjourney.com/1.png"],
            "cdnImages": ["https://cdn.ttapi.io/1.png"],
            "hookUrl": None,
            "submitTime": "2026-03-12T07:34:36Z",
            "finishTime": "2026-03-12T07:35:36Z",
        },
    }
    info = JobInfo.from_envelope(Envelope.model_validate(body))
    assert info.cdn_images == ["https://cdn.ttapi.io/1.png"] and info.action is None
    assert info.submit_time == datetime(2026, 3, 12, 7, 34, 36, tzinfo=UTC)
    assert info.finish_time == datetime(2026, 3, 12, 7, 35, 36, tzinfo=UTC)
    assert (info.progress, info.quota, info.finished) == (100, "4", True)


@pytest.mark.parametrize("when", ["not a time", "", None, [1]])
def test_an_unreadable_time_is_null(when: Any) -> None:
    info = JobInfo.model_validate({"submitTime": when, "finishTime": when})
    assert (info.submit_time, info.finish_time) == (None, None)


@pytest.mark.parametrize("key", sim_config.SUBMIT_ID_KEYS[1:])
def test_a_media_submit_answer_may_spell_the_id_either_way(key: str) -> None:
    assert SubmitResult.model_validate({key: "v-9"}).job_id == "v-9"
