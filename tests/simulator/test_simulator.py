"""The simulator's HTTP surface, over a real loopback socket: envelopes, job life, rules."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime

import pytest
import requests

from config.settings import account_label
from tests.support.sim_http import V1, Api
from tests.support.simulators import KEY, OTHER, SimFactory
from worker.devtools.simulator import Simulator

GRID = [
    "upsample1",
    "upsample2",
    "upsample3",
    "upsample4",
    "reroll",
    "variation1",
    "variation2",
    "variation3",
    "variation4",
]
UPSAMPLED = [
    "high_variation",
    "low_variation",
    "upscale_creative",
    "upscale_subtle",
    "zoom_out_2",
    "zoom_out_1_5",
    "pan_left",
    "pan_right",
    "pan_up",
    "pan_down",
]
DATA_URI = "data:image/png;base64,iVBORw0KGgo="


def done_imagine(api: Api, prompt: str = "a lighthouse") -> str:
    """An imagine job that has reached SUCCESS."""
    job_id = api.imagine(prompt)
    assert api.wait(job_id)["status"] == "SUCCESS"
    return job_id


def test_an_unknown_path_is_the_404_envelope_even_without_a_key(sim: Simulator) -> None:
    reply = requests.get(sim.url + V1 + "nope", timeout=5)
    assert reply.status_code == 404
    assert reply.json() == {"status": "FAILED", "message": "Not Found", "data": None}


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_a_missing_or_unknown_key_is_401_without_a_data_key(
    sim: Simulator, key: str | None
) -> None:
    reply = Api(sim.url, key).post("imagine", {"prompt": "a cat"})
    assert reply.status_code == 401
    assert reply.json() == {
        "status": "FAILED",
        "message": "Wrong TT-API-KEY or email is not activated.",
    }
    assert sim.stats()["count_401"] == 1


def test_a_job_goes_pending_then_on_queue_with_rising_string_progress_then_success(
    make_sim: SimFactory,
) -> None:
    # A 1 s job: its 0.1 s in PENDING_QUEUE outlasts the first fetch even on a busy machine.
    api = Api(make_sim(fast_s=1.0).url, KEY)
    job_id = api.imagine("a lighthouse --ar 3:2", mode="fast")
    seen: list[dict[str, object]] = []
    while not seen or seen[-1]["status"] not in ("SUCCESS", "FAILED"):
        seen.append(api.fetch(job_id))
        time.sleep(0.005)
    statuses = [body["status"] for body in seen]
    assert statuses[0] == "PENDING_QUEUE" and statuses[-1] == "SUCCESS"
    assert "ON_QUEUE" in statuses
    assert seen[0] == {"status": "PENDING_QUEUE", "jobId": job_id, "message": "", "data": []}
    running = [body["data"] for body in seen if body["status"] == "ON_QUEUE"]
    progress = [int(d["progress"]) for d in running if isinstance(d, dict)]
    assert all(isinstance(d["progress"], str) for d in running if isinstance(d, dict))
    assert progress == sorted(progress) and progress[-1] > progress[0] and progress[-1] <= 99
    first = running[0]
    assert isinstance(first, dict)
    assert (first["components"], first["images"], first["seed"]) == ([], None, None)
    data = seen[-1]["data"]
    assert isinstance(data, dict)
    assert data["action"] == "imagine" and data["jobId"] == job_id and data["progress"] == "100"
    assert data["prompt"] == "a lighthouse --ar 3:2" and data["quota"] == "2"
    assert data["components"] == GRID and data["seed"] is None and data["hookUrl"] == ""
    assert len(data["images"]) == 4 and data["cdnImage"].endswith("/0.png")
    assert (data["width"], data["height"]) == (2048, 1365)


def test_image_urls_of_a_job_download_as_png(api: Api) -> None:
    data = api.fetch(done_imagine(api))["data"]
    for url in [data["cdnImage"], *data["images"]]:
        reply = requests.get(url, timeout=5)
        assert reply.status_code == 200
        assert reply.headers["Content-Type"] == "image/png"
        assert reply.content.startswith(b"\x89PNG\r\n\x1a\n") and 100 < len(reply.content) < 5000


def test_action_answers_job_id_and_inherits_the_parent_prompt(api: Api) -> None:
    parent = done_imagine(api, "a red fox")
    reply = api.post("action", {"jobId": parent, "action": "upsample2"})
    assert reply.status_code == 200
    assert set(reply.json()["data"]) == {"job_id"}
    body = api.wait(reply.json()["data"]["job_id"])
    assert body["data"]["prompt"] == "a red fox" and body["data"]["action"] == "upsample2"
    assert body["data"]["components"] == UPSAMPLED and body["data"]["images"] is None


@pytest.mark.parametrize(
    ("prompt", "chain", "components"),
    [
        ("a cat", ["variation1"], GRID),
        ("a cat", ["reroll"], GRID),
        (
            "a cat --v 5.2",
            ["upsample1"],
            [
                {"upscale_creative": "upscale2", "upscale_subtle": "upscale4"}.get(a, a)
                for a in UPSAMPLED
            ],
        ),
        ("a cat", ["upsample3", "zoom_out_2"], GRID),
        ("a cat", ["upsample3", "pan_left"], GRID),
        ("a cat", ["upsample1", "upscale_subtle"], []),
        ("a cat --v 5", ["upsample1", "upscale4"], []),
    ],
)
def test_each_action_offers_the_components_of_its_kind(
    api: Api, prompt: str, chain: list[str], components: list[str]
) -> None:
    job_id = done_imagine(api, prompt)
    for action in chain:
        reply = api.post("action", {"jobId": job_id, "action": action})
        assert reply.status_code == 200, reply.text
        job_id = reply.json()["data"]["job_id"]
        assert api.wait(job_id)["status"] == "SUCCESS"
    assert api.fetch(job_id)["data"]["components"] == components


def test_seed_gives_a_digit_string_and_describe_four_numbered_prompts(api: Api) -> None:
    parent = done_imagine(api)
    seed = api.wait(api.post("seed", {"jobId": parent}).json()["data"]["jobId"])["data"]
    assert re.fullmatch(r"\d+", seed["seed"]) and seed["components"] == []
    described = api.post("describe", {"base64": DATA_URI}).json()["data"]["jobId"]
    data = api.wait(described)["data"]
    assert data["action"] == "describe" and data["components"] == []
    assert [n for n in "1234" if f"{n}\ufe0f\u20e3" in data["prompt"]] == list("1234")


def test_blend_and_inpaint_create_grid_jobs(api: Api) -> None:
    blend = api.post("blend", {"imgBase64Array": [DATA_URI] * 2, "dimensions": "PORTRAIT"})
    data = api.wait(blend.json()["data"]["jobId"])["data"]
    assert data["components"] == GRID and (data["width"], data["height"]) == (1365, 2048)
    parent = done_imagine(api)
    inpaint = api.post("inpaint", {"Jobid": parent, "mask": "bWFzaw==", "prompt": "a hat"})
    assert inpaint.status_code == 200, inpaint.text
    data = api.wait(inpaint.json()["data"]["jobId"])["data"]
    assert data["prompt"] == "a hat" and data["components"] == GRID


def test_fetch_of_an_unknown_or_foreign_job_is_404_job_not_found(sim: Simulator, api: Api) -> None:
    foreign = Api(sim.url, OTHER).imagine("someone else's cat")
    for job_id in ("00000000-0000-4000-8000-000000000000", foreign):
        reply = api.get("fetch", jobId=job_id)
        assert reply.status_code == 404
        assert reply.json() == {"status": "FAILED", "message": "Job not found", "data": None}


def test_info_reports_balance_freeze_balance_and_max_queue(api: Api) -> None:
    api.imagine("a cat", mode="turbo")
    reply = api.get("info")
    assert reply.json() == {
        "status": "SUCCESS",
        "message": "success",
        "data": {"balance": 1e9 - 4, "freeze_balance": 0, "max_queue": 10},
    }


def test_fetch_list_pages_newest_first_filters_and_keeps_to_its_key(
    sim: Simulator, api: Api
) -> None:
    Api(sim.url, OTHER).imagine("not mine")
    ids = [api.imagine(f"cat {n}") for n in range(3)]
    data = api.get("fetch-list", page=1, limit=2).json()["data"]
    assert (data["page"], data["limit"], data["total"]) == (1, 2, 3)
    assert [row["job_id"] for row in data["list"]] == [ids[2], ids[1]]
    row = data["list"][0]
    assert set(row) == {
        "job_id",
        "action",
        "prompt",
        "status",
        "progress",
        "cdn_image",
        "created_at",
    }
    assert isinstance(row["progress"], str) and row["prompt"] == "cat 2"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", row["created_at"])
    assert datetime.fromisoformat(row["created_at"]).utcoffset() is not None
    asc = api.get("fetch-list", page=2, limit=2, order="asc").json()["data"]
    assert [row["job_id"] for row in asc["list"]] == [ids[2]]
    assert api.get("fetch-list", status="SUCCESS").json()["data"]["total"] == 0


@pytest.mark.parametrize("limit", [0, 101, "x"])
def test_fetch_list_refuses_a_limit_outside_1_to_100(api: Api, limit: object) -> None:
    reply = api.get("fetch-list", limit=limit)
    assert reply.status_code == 400 and "limit" in reply.json()["message"]


def test_stats_and_control_answers_never_contain_a_key(sim: Simulator, api: Api) -> None:
    api.imagine("a cat")
    Api(sim.url, "wrong-key").get("info")
    texts = [
        requests.get(sim.url + "/_sim/stats", timeout=5).text,
        json.dumps(sim.stats()),
        json.dumps(sim.set_account(OTHER, other_client=1)),
        repr(sim),
        repr(sim.config),
    ]
    for text in texts:
        assert KEY not in text and OTHER not in text and "wrong-key" not in text
    assert set(sim.stats()["accounts"]) == {account_label(KEY), account_label(OTHER)}


def test_stop_also_ends_keep_alive_connections(make_sim: SimFactory) -> None:
    sim = make_sim(keys=[KEY])
    api = Api(sim.url, KEY)
    assert api.get("info").status_code == 200
    sim.stop()
    with pytest.raises(requests.ConnectionError):
        api.get("info")
    sim.stop()
