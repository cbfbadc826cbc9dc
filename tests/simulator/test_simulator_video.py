"""Video jobs in the simulator: submit, extend, their fetch answer, clips that download."""

from __future__ import annotations

import struct
from datetime import datetime
from typing import Any

import pytest
import requests

from tests.support.sim_http import Api
from tests.support.simulators import KEY, LABEL
from worker.devtools.simulator import Simulator
from worker.devtools.simulator.config import VIDEO_FETCH_PATH

START = "https://cdn.example.com/start.png"


def video(api: Api, **body: Any) -> requests.Response:
    """POST /midjourney/video/submit with a prompt and a start frame unless given."""
    payload = {"prompt": "a boat at sea", "imageUrl": START, **body}
    return api.session.post(
        api.url + "/midjourney/video/submit", json=payload, headers={"TT-API-KEY": KEY}, timeout=10
    )


def extend(api: Api, **body: Any) -> requests.Response:
    """POST /midjourney/video/extend."""
    return api.session.post(
        api.url + "/midjourney/video/extend", json=body, headers={"TT-API-KEY": KEY}, timeout=10
    )


def fetch_video(api: Api, job_id: str) -> dict[str, Any]:
    """The answer of the video fetch path for `job_id` (must be HTTP 200)."""
    reply = api.session.get(
        api.url + VIDEO_FETCH_PATH, params={"jobId": job_id}, headers={"TT-API-KEY": KEY}
    )
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def done_video(api: Api, **body: Any) -> str:
    """A video job that has reached SUCCESS."""
    reply = video(api, **body)
    assert reply.status_code == 200, reply.text
    job_id = str(reply.json()["data"]["job_id"])
    assert api.wait(job_id)["status"] == "SUCCESS"
    return job_id


def test_a_video_submit_answers_job_id_and_its_job_ends_with_four_clips(api: Api) -> None:
    reply = video(api, endingUrl="https://cdn.example.com/end.jpg", manual="high", hookUrl="")
    assert reply.status_code == 200
    assert reply.json() == {
        "status": "SUCCESS",
        "message": "success",
        "data": {"job_id": reply.json()["data"]["job_id"]},
    }
    job_id = reply.json()["data"]["job_id"]
    assert fetch_video(api, job_id)["status"] in ("PENDING_QUEUE", "ON_QUEUE")
    body = api.wait(job_id)
    data = body["data"]
    assert (body["status"], body["jobId"], data["action"], data["progress"]) == (
        "SUCCESS",
        job_id,
        "video",
        "100",
    )
    assert (data["imageUrl"], data["endingUrl"]) == (START, "https://cdn.example.com/end.jpg")
    assert (data["manual"], data["resolution"], data["mode"]) == ("high", "sd", "fast")
    assert data["bs"] == 4
    assert [url.rsplit("/", 1)[-1] for url in data["videos"]] == [f"{n}.mp4" for n in range(4)]
    submitted = datetime.fromisoformat(data["submitTime"])
    assert datetime.fromisoformat(data["finishTime"]) >= submitted
    assert submitted.utcoffset() is not None and data["submitTime"].endswith("Z")


def test_a_running_video_job_has_no_clips_yet(make_sim: Any) -> None:
    api = Api(make_sim(fast_s=5.0).url, KEY)
    job_id = video(api).json()["data"]["job_id"]
    body = api.wait(job_id, until=("ON_QUEUE",))
    assert body["data"]["videos"] is None and body["data"]["finishTime"] is None


def test_each_clip_downloads_as_a_small_mp4_with_an_ftyp_box(api: Api) -> None:
    urls = fetch_video(api, done_video(api, bs=2))["data"]["videos"]
    assert len(urls) == 2
    contents = []
    for url in urls:
        reply = requests.get(url, timeout=5)
        assert reply.status_code == 200 and reply.headers["Content-Type"] == "video/mp4"
        size, kind, brand = struct.unpack(">I4s4s", reply.content[:12])
        assert (kind, brand) == (b"ftyp", b"isom") and 200 < len(reply.content) < 5000
        assert reply.content[size + 4 : size + 8] == b"moov"
        contents.append(reply.content)
    assert contents[0] != contents[1]
    beyond = urls[1].replace("/1.mp4", "/2.mp4")
    assert requests.get(beyond, timeout=5).status_code == 404


def test_no_clip_downloads_for_an_image_job(sim: Simulator, api: Api) -> None:
    job_id = api.imagine("a cat")
    assert requests.get(f"{sim.url}/_sim/videos/{job_id}/0.mp4", timeout=5).status_code == 404


@pytest.mark.parametrize(("bs", "clips"), [(1, 1), ("2", 2), (4, 4)])
def test_bs_sets_the_number_of_clips_and_may_be_sent_as_a_string(
    api: Api, bs: object, clips: int
) -> None:
    assert len(fetch_video(api, done_video(api, bs=bs))["data"]["videos"]) == clips


def test_hd_costs_more_quota_than_sd(api: Api) -> None:
    sd = fetch_video(api, done_video(api, resolution="sd"))["data"]["quota"]
    hd = fetch_video(api, done_video(api, resolution="hd"))["data"]["quota"]
    assert float(hd) > float(sd) > 0
    balance = api.get("info").json()["data"]["balance"]
    assert balance == 1e9 - float(sd) - float(hd)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": None}, "prompt"),
        ({"imageUrl": None}, "imageUrl"),
        ({"imageUrl": "data:image/png;base64,iVBORw0KGgo="}, "imageUrl"),
        ({"imageUrl": "ftp://example.com/a.png"}, "imageUrl"),
        ({"endingUrl": "not a url"}, "endingUrl"),
        ({"mode": "relax"}, "mode"),
        ({"model": "turbo"}, "model"),
        ({"manual": "medium"}, "manual"),
        ({"resolution": "4k"}, "resolution"),
        ({"bs": 3}, "bs"),
        ({"bs": "many"}, "bs"),
        ({"hookUrl": 5}, "hookUrl"),
    ],
)
def test_a_bad_video_field_is_a_400_naming_it(
    sim: Simulator, api: Api, body: dict[str, Any], field: str
) -> None:
    payload = {"prompt": "a boat", "imageUrl": START, **body}
    reply = api.session.post(
        api.url + "/midjourney/video/submit",
        json={k: v for k, v in payload.items() if v is not None},
        headers={"TT-API-KEY": KEY},
        timeout=10,
    )
    assert reply.status_code == 400
    assert reply.json()["status"] == "FAILED" and reply.json()["message"].startswith(f"{field}:")
    assert sim.stats()["accounts"][LABEL]["submits"] == 0


def test_an_extend_continues_one_clip_of_a_finished_video_job(api: Api) -> None:
    parent = done_video(api, prompt="a lighthouse", bs=2)
    reply = extend(api, jobId=parent, index=1, animateMode="manual", manual="high", bs="1")
    assert reply.status_code == 200, reply.text
    job_id = reply.json()["data"]["job_id"]
    data = api.wait(job_id)["data"]
    assert (data["action"], data["parentJobId"], data["index"]) == ("video_extend", parent, 1)
    assert (data["animateMode"], data["manual"]) == ("manual", "high")
    assert data["prompt"] == "a lighthouse"
    assert len(data["videos"]) == 1
    again = extend(api, jobId=job_id, index=0)
    assert again.status_code == 200 and api.wait(again.json()["data"]["job_id"])["data"]["bs"] == 4


def test_an_extend_defaults_to_auto_animation_and_low_motion(api: Api) -> None:
    reply = extend(api, jobId=done_video(api), index="3")
    data = api.wait(reply.json()["data"]["job_id"])["data"]
    assert (data["animateMode"], data["manual"], data["index"]) == ("auto", "low", 3)


@pytest.mark.parametrize(
    ("which", "body", "message"),
    [
        ("none", {}, "jobId: required"),
        ("unknown", {"index": 0}, "not found"),
        ("image", {"index": 0}, "is not a video job"),
        ("running", {"index": 0}, "not SUCCESS"),
        ("video", {}, "index: required"),
        ("video", {"index": 4}, "index: must be"),
        ("video", {"index": -1}, "index: must be"),
        ("video", {"index": 2}, "index must be below 2"),
        ("video", {"index": 0, "animateMode": "loop"}, "animateMode:"),
        ("video", {"index": 0, "bs": 8}, "bs:"),
    ],
)
def test_a_bad_extend_is_a_400_saying_why(
    api: Api, which: str, body: dict[str, Any], message: str
) -> None:
    parents = {
        "none": lambda: None,
        "unknown": lambda: "00000000-0000-4000-8000-000000000000",
        "image": lambda: api.imagine("a cat"),
        "running": lambda: video(api, prompt="a stuck boat").json()["data"]["job_id"],
        "video": lambda: done_video(api, bs=2),
    }
    job_id = parents[which]()
    reply = extend(api, **({"jobId": job_id} if job_id else {}), **body)
    assert reply.status_code == 400 and message in reply.json()["message"]
