"""Video and edit jobs under the account's rules: one shared cap, faults, hooks, history, knobs."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.support.sim_http import Api, Receiver, eventually
from tests.support.simulators import KEY, LABEL, SimFactory
from worker.devtools.simulator import Simulator
from worker.devtools.simulator.config import Faults
from worker.devtools.simulator.latency import base_round_trip

START = "https://cdn.example.com/start.png"
PATHS = {
    "video": "/midjourney/video/submit",
    "extend": "/midjourney/video/extend",
    "edit": "/midjourney/image-edits/submit",
}


def post(api: Api, kind: str, **body: Any) -> requests.Response:
    """Submit a video or an edit with sensible defaults (`kind`: video, extend or edit)."""
    defaults = {
        "video": {"prompt": "a boat", "imageUrl": START},
        "extend": {},
        "edit": {"prompt": "blue eyes", "image": START},
    }[kind]
    return api.session.post(
        api.url + PATHS[kind], json={**defaults, **body}, headers={"TT-API-KEY": KEY}, timeout=10
    )


def fetch_edit(api: Api, job_id: str) -> requests.Response:
    """GET /midjourney/image-edits/fetch?jobId=."""
    return api.session.get(
        api.url + "/midjourney/image-edits/fetch",
        params={"jobId": job_id},
        headers={"TT-API-KEY": KEY},
        timeout=10,
    )


def job_id_of(reply: requests.Response) -> str:
    """The new job's id, however the answer spells it."""
    assert reply.status_code == 200, reply.text
    data = reply.json()["data"]
    return str(data.get("job_id") or data["jobId"])


def test_video_edit_and_image_jobs_share_the_accounts_cap(sim: Simulator, api: Api) -> None:
    for n in range(4):
        api.imagine(f"a stuck cat {n}")
    for n in range(3):
        job_id_of(post(api, "video", prompt=f"a stuck boat {n}"))
        job_id_of(post(api, "edit", prompt=f"stuck eyes {n}"))
    for kind in ("video", "edit"):
        reply = post(api, kind)
        assert reply.status_code == 499
        assert reply.json() == {
            "status": "FAILED",
            "message": "User product queue insufficient",
            "data": None,
        }
    assert api.post("imagine", {"prompt": "one more"}).status_code == 499
    account = sim.stats()["accounts"][LABEL]
    assert (account["count_499"], account["in_progress"], account["submits"]) == (3, 10, 10)


def test_an_expensive_video_is_refused_with_402_when_the_balance_is_short(
    sim: Simulator, api: Api
) -> None:
    sim.set_account(KEY, balance=3)
    assert post(api, "video", resolution="hd").status_code == 402
    assert post(api, "video", resolution="sd", bs=2).status_code == 200


def test_the_rate_limit_and_random_faults_cover_the_new_endpoints(make_sim: SimFactory) -> None:
    sim = make_sim(rate_per_s=0.001, burst=2)
    api = Api(sim.url, KEY)
    assert post(api, "edit").status_code == 200
    assert post(api, "video").status_code == 200
    assert post(api, "video").status_code == 429
    sim = make_sim()
    api = Api(sim.url, KEY)
    sim.set_faults(rate_500=1.0, fault_paths=["video"], fail_paths=["image-edits-fetch"])
    assert post(api, "video").status_code == 500
    assert fetch_edit(api, job_id_of(post(api, "edit"))).status_code == 500


def test_a_video_submit_can_be_created_and_then_lost_to_a_504(sim: Simulator, api: Api) -> None:
    sim.set_faults(rate_504_after_create=1.0, fault_paths=["video"])
    reply = post(api, "video")
    assert reply.status_code == 504 and "text/html" in reply.headers["Content-Type"]
    rows = api.get("fetch-list").json()["data"]["list"]
    assert [row["action"] for row in rows] == ["video"]


def test_video_and_edit_jobs_call_their_hook_with_the_fetch_structure(
    make_sim: SimFactory,
) -> None:
    api = Api(make_sim(hook_retry_delay_s=0.05).url, KEY)
    with Receiver([200]) as receiver:
        video_id = job_id_of(post(api, "video", bs=2, hookUrl=receiver.url))
        edit_id = job_id_of(post(api, "edit", hookUrl=receiver.url))
        failed_id = job_id_of(post(api, "video", prompt="a banned boat", hookUrl=receiver.url))
        assert eventually(lambda: len(receiver.calls) == 3)
    bodies = {body["jobId"]: body for _, body in receiver.calls}
    video = bodies[video_id]
    assert (video["status"], video["data"]["actions"], len(video["data"]["videos"])) == (
        "SUCCESS",
        "video",
        2,
    )
    assert video["data"]["hookUrl"] == receiver.url
    edited = bodies[edit_id]["data"]
    assert len(edited["images"]) == 4 and len(edited["cdnImages"]) == 4
    assert (bodies[failed_id]["status"], bodies[failed_id]["data"]) == ("FAILED", [])


def test_fetch_list_shows_video_extend_and_edit_jobs(api: Api) -> None:
    video_id = job_id_of(post(api, "video", bs=1))
    assert api.wait(video_id)["status"] == "SUCCESS"
    job_id_of(post(api, "extend", jobId=video_id, index=0))
    job_id_of(post(api, "edit", type="retexture"))
    rows = api.get("fetch-list", order="asc").json()["data"]["list"]
    assert [row["action"] for row in rows] == ["video", "video_extend", "retexture"]
    assert api.get("fetch-list", status="SUCCESS").json()["data"]["total"] == 1


@pytest.mark.parametrize(
    ("word", "message"), [("banned", "[Banned prompt detected]"), ("denied", "[Image denied]")]
)
def test_failure_words_fail_video_and_edit_jobs_with_ttapis_words(
    api: Api, word: str, message: str
) -> None:
    video_body = api.wait(job_id_of(post(api, "video", prompt=f"a {word} boat")))
    assert video_body["status"] == "FAILED" and video_body["message"].startswith(message)
    edit_id = job_id_of(post(api, "edit", prompt=f"{word} eyes"))
    assert eventually(lambda: fetch_edit(api, edit_id).json()["message"].startswith(message))


def test_banned_prompt_words_are_refused_on_the_new_submits_too(api: Api) -> None:
    for kind in ("video", "edit"):
        reply = post(api, kind, prompt="a sexy boat")
        assert reply.status_code == 400 and reply.json()["message"] == "banned prompt words :sexy"


def test_submit_answers_spell_the_id_as_the_pages_do_or_as_the_knob_says(
    sim: Simulator, api: Api
) -> None:
    def keys() -> list[str]:
        imagine = api.post("imagine", {"prompt": "a cat"}).json()["data"]
        return [*imagine, *post(api, "video").json()["data"], *post(api, "edit").json()["data"]]

    assert keys() == ["jobId", "job_id", "job_id"]
    sim.set_faults(submit_id_key="jobId")
    assert keys() == ["jobId"] * 3
    sim.set_faults(submit_id_key="job_id")
    assert keys() == ["job_id"] * 3


@pytest.mark.parametrize(
    ("key", "bs", "shape"),
    [
        ("videos", 1, list),
        ("videoUrl", 1, str),
        ("videoUrl", 2, list),
        ("images", 2, list),
        ("cdnImages", 4, list),
    ],
)
def test_the_video_list_can_be_spelled_as_a_tolerant_parser_must_read_it(
    sim: Simulator, api: Api, key: str, bs: int, shape: type
) -> None:
    reply = requests.post(sim.url + "/_sim/faults", json={"video_list_key": key}, timeout=5)
    assert reply.status_code == 200
    data = api.wait(job_id_of(post(api, "video", bs=bs)))["data"]
    others = {"videos", "videoUrl", "images", "cdnImages"} - {key}
    assert isinstance(data[key], shape) and not others & set(data)
    urls = [data[key]] if isinstance(data[key], str) else data[key]
    assert len(urls) == bs and all(url.endswith(".mp4") for url in urls)


@pytest.mark.parametrize(
    "body", [{"video_list_key": "clips"}, {"submit_id_key": "id"}, {"submit_id_key": 1}]
)
def test_an_unknown_spelling_knob_is_refused(sim: Simulator, body: dict[str, Any]) -> None:
    reply = requests.post(sim.url + "/_sim/faults", json=body, timeout=5)
    assert reply.status_code == 400 and next(iter(body)) in reply.json()["message"]


def test_the_new_submits_pay_the_submit_round_trip_and_the_edit_fetch_the_fetch_one() -> None:
    faults = Faults(latency_submit_s=0.6, latency_fetch_s=0.25)
    submits = [base_round_trip(faults, e) for e in ("video", "video-extend", "image-edits")]
    assert submits == [0.6] * 3 and base_round_trip(faults, "image-edits-fetch") == 0.25
