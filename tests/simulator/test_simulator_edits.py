"""Image-edit jobs in the simulator: submit, their own fetch, fixed aspect ratios, downloads."""

from __future__ import annotations

import base64
import struct
import time
import zlib
from datetime import datetime
from typing import Any

import pytest
import requests

from tests.support.sim_http import Api
from tests.support.simulators import KEY, LABEL
from worker.devtools.simulator import Simulator

EDITS = "/midjourney/image-edits/"
IMAGE = "https://cdn.example.com/cat-with-a-hole.png"


def png_header(width: int, height: int) -> bytes:
    """The start of a PNG of width × height: all the simulator reads of it."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + crc


def edit(api: Api, **body: Any) -> requests.Response:
    """POST /midjourney/image-edits/submit; `None` values are left out of the body."""
    payload = {"prompt": "blue eyes", "image": IMAGE, **body}
    return api.session.post(
        api.url + EDITS + "submit",
        json={k: v for k, v in payload.items() if v is not None},
        headers={"TT-API-KEY": KEY},
        timeout=10,
    )


def fetch_edit(api: Api, job_id: str) -> requests.Response:
    """GET /midjourney/image-edits/fetch?jobId=."""
    return api.session.get(
        api.url + EDITS + "fetch", params={"jobId": job_id}, headers={"TT-API-KEY": KEY}
    )


def done_edit(api: Api, **body: Any) -> dict[str, Any]:
    """The final fetch answer of an edit job that must succeed."""
    reply = edit(api, **body)
    assert reply.status_code == 200, reply.text
    job_id = reply.json()["data"]["job_id"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        reply = fetch_edit(api, job_id)
        assert reply.status_code == 200, reply.text
        answer: dict[str, Any] = reply.json()
        if answer["status"] in ("SUCCESS", "FAILED"):
            return answer
        time.sleep(0.02)
    raise AssertionError("the edit job did not end")


def test_an_edit_answers_job_id_and_its_fetch_has_the_documented_fields(api: Api) -> None:
    reply = edit(api, mode="turbo", hookUrl="")
    assert reply.status_code == 200 and set(reply.json()["data"]) == {"job_id"}
    body = done_edit(api, mode="turbo")
    assert (body["status"], body["message"]) == ("SUCCESS", "")
    data = body["data"]
    assert data["jobId"] == body["jobId"] and (data["progress"], data["mode"]) == ("100", "turbo")
    assert (data["prompt"], data["quota"], data["hookUrl"]) == ("blue eyes", "8", None)
    assert len(data["images"]) == 4 and len(data["cdnImages"]) == 4
    assert datetime.fromisoformat(data["finishTime"]) >= datetime.fromisoformat(data["submitTime"])


def test_a_running_edit_has_no_images_yet(make_sim: Any) -> None:
    api = Api(make_sim(fast_s=5.0).url, KEY)
    job_id = edit(api).json()["data"]["job_id"]
    body = fetch_edit(api, job_id).json()
    if body["status"] == "ON_QUEUE":
        assert (body["data"]["images"], body["data"]["finishTime"]) == (None, None)
    else:
        assert (body["status"], body["data"]) == ("PENDING_QUEUE", [])


def test_the_images_and_cdn_images_of_an_edit_download_as_png(api: Api) -> None:
    data = done_edit(api)["data"]
    bodies = set()
    for url in [*data["images"], *data["cdnImages"]]:
        reply = requests.get(url, timeout=5)
        assert reply.status_code == 200 and reply.headers["Content-Type"] == "image/png"
        assert reply.content.startswith(b"\x89PNG\r\n\x1a\n")
        bodies.add(reply.content)
    assert len(bodies) == 8


def test_retexture_is_an_edit_of_another_type(api: Api, sim: Simulator) -> None:
    body = done_edit(api, type="retexture")
    assert body["status"] == "SUCCESS"
    assert sim.stats()["jobs"][body["jobId"]]["action"] == "retexture"


@pytest.mark.parametrize(
    ("image", "prompt", "size"),
    [
        (png_header(300, 100), "a hat", (1024, 512)),  # 3:1 → 2:1
        (png_header(1000, 1000), "a hat", (1024, 1024)),
        (png_header(1080, 1920), "a hat", (576, 1024)),  # 9:16
        (png_header(1000, 760), "a hat", (1024, 768)),  # ~4:3
        (IMAGE, "a hat --ar 2:3", (683, 1024)),  # a URL: the prompt's --ar, if any
        (IMAGE, "a hat --ar 5:4", (1024, 768)),
        (IMAGE, "a hat", (1024, 1024)),
    ],
)
def test_an_edit_comes_out_in_the_nearest_fixed_aspect_ratio(
    api: Api, image: bytes | str, prompt: str, size: tuple[int, int]
) -> None:
    if isinstance(image, bytes):
        image = "data:image/png;base64," + base64.b64encode(image).decode()
    data = done_edit(api, image=image, prompt=prompt)["data"]
    assert (data["width"], data["height"]) == size


@pytest.mark.parametrize(
    "image",
    [
        base64.b64encode(png_header(64, 64)).decode(),  # base64 without a data: prefix
        "data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8\xff\xe0 jfif").decode(),
        "data:image/webp;base64," + base64.b64encode(b"RIFF\x00\x00\x00\x00WEBPVP8 ").decode(),
        base64.b64encode(b"BM a bitmap").decode(),
        "https://cdn.example.com/no-extension",
        "https://cdn.example.com/photo.JPG?size=large",
    ],
)
def test_an_edit_takes_urls_and_base64_of_the_allowed_formats(api: Api, image: str) -> None:
    assert edit(api, image=image).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": None}, "prompt"),
        ({"image": None}, "image"),
        ({"image": ""}, "image"),
        ({"image": "https://cdn.example.com/anim.gif"}, "image"),
        ({"image": "data:image/gif;base64,R0lGODlh"}, "image"),
        ({"image": "not base64 at all!"}, "image"),
        ({"image": base64.b64encode(b"%PDF-1.4 not an image").decode()}, "image"),
        ({"type": "inpaint"}, "type"),
        ({"mode": "slow"}, "mode"),
        ({"hookUrl": ["x"]}, "hookUrl"),
    ],
)
def test_a_bad_edit_field_is_a_400_naming_it(
    sim: Simulator, api: Api, body: dict[str, Any], field: str
) -> None:
    reply = edit(api, **body)
    assert reply.status_code == 400
    assert reply.json()["status"] == "FAILED" and reply.json()["message"].startswith(f"{field}:")
    assert sim.stats()["accounts"][LABEL]["submits"] == 0


def test_edits_and_images_are_each_fetched_on_their_own_path(api: Api) -> None:
    edit_id = edit(api).json()["data"]["job_id"]
    image_id = api.imagine("a cat")
    assert api.get("fetch", jobId=edit_id).status_code == 404
    assert fetch_edit(api, image_id).status_code == 404
    assert fetch_edit(api, "00000000-0000-4000-8000-000000000000").json() == {
        "status": "FAILED",
        "message": "Job not found",
        "data": None,
    }
    assert fetch_edit(api, "").status_code == 400


def test_an_edit_fetch_counts_as_a_fetch(sim: Simulator, api: Api) -> None:
    job_id = edit(api).json()["data"]["job_id"]
    fetch_edit(api, job_id)
    assert sim.stats()["jobs"][job_id]["fetches"] == 1
    assert sim.stats()["accounts"][LABEL]["fetches"] == 1
