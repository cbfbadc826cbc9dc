"""Result storage against a real S3 protocol endpoint on loopback (moto's server, no mocked
client) and the simulator's CDN: stored before delivered, names, bytes, links, thumbnails.

moto does not check signatures: `presigned_signature_ok` checks a link's SigV4 signature with
botocore's signer. GCS and Azure are not tested (no server for them installs here).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from PIL import Image

from tests.support.engine import FAST, KEY_A, LABEL_A, build_engine, submits
from tests.support.inline import InlineEngine
from tests.support.s3 import FaultyProxy, S3Server, presigned_signature_ok, storage_env
from tests.support.simulators import SimFactory
from worker.devtools.simulator import Simulator
from worker.jobs import storing
from worker.jobs.record import RecordState

BUCKET, PREFIX = "mj-results", "results"
NAMES = ["1.png", "2.png", "3.png", "4.png", "main.png"]
THUMBS = [f"thumb/{n.replace('.png', '.webp')}" for n in NAMES]


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    server = S3Server(BUCKET).start()
    yield server
    server.stop()


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A], capacity=3, fast_s=FAST, clip_bytes=12 * 1024 * 1024)


def stored_engine(
    sim: Simulator, endpoint: str, monkeypatch: pytest.MonkeyPatch, **overrides: Any
) -> InlineEngine:
    """An in-process engine whose results are stored in the test bucket through `endpoint`."""
    env = storage_env(endpoint, BUCKET, PREFIX)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    values = {
        "mj_storage_url": env["MJ_STORAGE_URL"],
        "mj_download_allow_private": True,  # the simulator's CDN is on 127.0.0.1
        **overrides,
    }
    return build_engine(sim, KEY_A, capacity=3, **values)


def folder(result: dict[str, Any]) -> str:
    day = datetime.fromisoformat(result["finished_at"]).astimezone(UTC)
    return f"{PREFIX}/{day:%Y/%m/%d}/{result['job_id']}"


def test_a_result_is_delivered_after_its_files_are_stored_with_the_cdns_bytes(
    sim: Simulator, s3: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    eng = stored_engine(sim, s3.endpoint, monkeypatch)
    job = eng.imagine("a lighthouse")
    assert eng.run_until(eng.done(job), 10)
    result = eng.result(job)
    base = folder(result)
    assert s3.keys(base) == sorted(f"{base}/{n}" for n in NAMES + THUMBS)
    stored = result["stored"]
    assert stored["objects"]["image_url"] == f"{base}/main.png".removeprefix(f"{PREFIX}/")
    assert len(stored["images"]) == 4 and stored["videos"] is None
    for cdn, key in [(result["image_url"], "main.png")] + [
        (url, f"{n}.png") for n, url in enumerate(result["images"], 1)
    ]:
        assert s3.body(f"{base}/{key}") == requests.get(cdn, timeout=5).content
    head = s3.head(f"{base}/main.png")
    assert head["ContentType"] == "image/png"
    assert head["Metadata"] == {
        "task-id": job,
        "kind": "imagine",
        "tenant": "default",
        "ttapi-job-id": result["job_id"],
    }
    thumb = s3.body(f"{base}/thumb/main.webp")
    assert Image.open(io.BytesIO(thumb)).format == "WEBP"
    assert s3.head(f"{base}/thumb/main.webp")["ContentType"] == "image/webp"
    assert eng.stored[job] == [eng.outcomes[job]]  # delivered once


def test_presigned_links_serve_the_stored_bytes_and_carry_a_sigv4_signature(
    sim: Simulator, s3: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    eng = stored_engine(sim, s3.endpoint, monkeypatch, mj_storage_link_ttl_s=3600)
    job = eng.imagine("a red fox")
    assert eng.run_until(eng.done(job), 10)
    stored = eng.result(job)["stored"]
    for link in [stored["image_url"], *stored["images"], stored["thumbnail"]]:
        assert "X-Amz-Expires=3600" in link
        assert presigned_signature_ok(link), link
        key = link.split("?")[0].split(f"/{BUCKET}/", 1)[1]
        assert requests.get(link, timeout=5).content == s3.body(key)
    assert stored["links_expire_at"] == pytest.approx(eng.rt.clock() + 3600, abs=30)


def test_public_links_serve_the_stored_bytes(
    sim: Simulator, s3: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    public = f"{s3.endpoint}/{BUCKET}"  # the bucket made public, as one would for a CDN
    s3.make_public()
    eng = stored_engine(sim, s3.endpoint, monkeypatch, mj_storage_public_url=public)
    job = eng.imagine("a tiny robot")
    assert eng.run_until(eng.done(job), 10)
    result = eng.result(job)
    stored = result["stored"]
    assert stored["image_url"] == f"{public}/{folder(result)}/main.png"
    assert stored["links_expire_at"] is None
    assert (
        requests.get(stored["image_url"], timeout=5).content
        == requests.get(result["image_url"], timeout=5).content
    )


def test_a_clip_streams_into_the_store_in_parts_with_its_start_image_as_thumbnail(
    sim: Simulator, s3: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    eng = stored_engine(sim, s3.endpoint, monkeypatch)
    start = f"{sim.url}/_sim/images/{'0' * 8}-0000-0000-0000-{'0' * 12}/0.png"
    frame = eng.imagine("a frame")
    assert eng.run_until(eng.done(frame), 10)
    start = eng.result(frame)["image_url"]
    job = eng.submit("video", {"image": start, "prompt": "waves", "batch": 1})
    assert eng.run_until(eng.done(job), 10)
    result = eng.result(job)
    base = folder(result)
    assert s3.keys(base) == [f"{base}/thumb/video-1.webp", f"{base}/video-1.mp4"]
    clip = requests.get(result["videos"][0], timeout=10).content
    assert len(clip) == 12 * 1024 * 1024
    assert s3.body(f"{base}/video-1.mp4") == clip
    head = s3.head(f"{base}/video-1.mp4")
    assert head["ContentType"] == "video/mp4"
    assert head["ETag"].endswith('-3"')  # three parts of 5 MiB: streamed, never whole
    assert result["stored"]["thumbnail"] and result["stored"]["videos"]


def test_a_store_that_is_down_holds_the_result_but_never_the_slot(
    sim: Simulator, s3: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = FaultyProxy(("127.0.0.1", s3.port))  # never up: connections refused
    eng = stored_engine(sim, proxy.endpoint, monkeypatch, mj_storage_retry_s=30)
    job = eng.imagine("a paper boat")
    assert eng.run_until(lambda: eng.state(job) == RecordState.SUCCESS, 10)
    assert eng.run_until(lambda: eng.rt.records.load(job).extra.get("store_attempts") == "2", 10)
    assert eng.holders(LABEL_A) == 0  # freed when TTAPI said it ended
    assert job not in eng.outcomes  # not delivered while the store is away
    rec = eng.rt.records.load(job)
    assert storing.held(rec) and eng.rt.redis.zscore(eng.rt.keys.undelivered, job) is not None
    assert eng.deliver(job).__class__.__name__ == "Park"  # a report run waits too
    proxy.up()
    try:
        assert eng.run_until(eng.done(job), 10)
    finally:
        proxy.down()
    assert eng.result(job)["stored"]["thumbnail"]
    assert eng.stored[job] == [eng.outcomes[job]] and submits(sim) == 1


def test_a_store_away_past_the_retry_window_delivers_stored_null_counted(
    sim: Simulator, s3: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = FaultyProxy(("127.0.0.1", s3.port))
    eng = stored_engine(sim, proxy.endpoint, monkeypatch, mj_storage_retry_s=1.0)
    job = eng.imagine("a hot air balloon")
    assert eng.run_until(eng.done(job), 10)
    result = eng.result(job)
    assert result["stored"] is None
    assert "not stored after 1 s" in result["storage_error"]
    assert "writing to the store" in result["storage_error"]
    assert int(eng.rt.redis.get(eng.rt.keys.storage_failures) or 0) == 1
    assert not eng.rt.redis.zcard(eng.rt.keys.storing)


def test_a_file_store_gives_paths_to_the_same_bytes(
    sim: Simulator, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "store"
    eng = build_engine(
        sim,
        KEY_A,
        capacity=3,
        mj_storage_url=f"file://{root}",
        mj_download_allow_private=True,
    )
    job = eng.imagine("a glass teapot")
    assert eng.run_until(eng.done(job), 10)
    result = eng.result(job)
    stored = result["stored"]
    day = datetime.fromisoformat(result["finished_at"]).astimezone(UTC)
    assert stored["image_url"] == f"{root}/{day:%Y/%m/%d}/{result['job_id']}/main.png"
    with open(stored["image_url"], "rb") as f:
        assert f.read() == requests.get(result["image_url"], timeout=5).content
    assert stored["thumbnail"].endswith("/thumb/main.webp")


def test_the_last_step_is_held_and_an_intermediate_one_only_with_all() -> None:
    then = {"options": {"chain": [{"task": "mj.action", "kwargs": {"action": "upsample1"}}]}}
    download = {"options": {"chain": [{"task": "mj.download"}]}}
    assert storing.is_last_step({}) and storing.is_last_step(download)
    assert not storing.is_last_step(then)
    assert not storing.is_last_step({"options": {"link": [{"task": "mj.video"}]}})


def test_the_operator_page_shows_the_stored_thumbnail_and_its_policy_allows_the_store(
    sim: Simulator, s3: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    from worker.ops.admin import HEADERS
    from worker.ops.overview import overview
    from worker.ops.page.sections import results
    from worker.ops.view import OpsView
    from worker.storage.target import storage_for

    eng = stored_engine(sim, s3.endpoint, monkeypatch)
    job = eng.imagine("a cat astronaut")
    assert eng.run_until(eng.done(job), 10)
    view = OpsView.on(eng.rt.settings, eng.rt.redis)
    html = results(overview(view))
    thumb = next(r for r in overview(view)["jobs"]["recent"] if r["job_id"] == job)["thumbnail"]
    assert "/thumb/main.webp?" in thumb and thumb.replace("&", "&amp;") in html
    policy = dict(HEADERS)["Content-Security-Policy"]
    img_src = next(p.split()[1:] for p in policy.split(";") if p.split()[0] == "img-src")
    storage = storage_for(eng.rt.settings)
    assert storage is not None and storage.host() == s3.endpoint
    assert "*" in img_src or storage.host() in img_src


def test_a_store_failing_a_third_of_writes_still_gets_every_file_once(
    sim: Simulator, s3: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = FaultyProxy(("127.0.0.1", s3.port), fail_writes=0.3).up()
    try:
        eng = stored_engine(sim, proxy.endpoint, monkeypatch, mj_storage_retry_s=60)
        jobs = [eng.imagine(f"a fox {i}") for i in range(3)]
        assert eng.run_until(eng.all_done, 30)
    finally:
        proxy.down()
    assert proxy.counts["failed"] > 0
    for job in jobs:
        result = eng.result(job)
        assert s3.keys(folder(result)) == sorted(f"{folder(result)}/{n}" for n in NAMES + THUMBS)
        assert len(result["stored"]["images"]) == 4 and eng.stored[job] == [eng.outcomes[job]]


def test_with_all_steps_an_intermediate_step_is_delivered_at_once_and_stored_after(
    sim: Simulator, s3: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    eng = stored_engine(sim, s3.endpoint, monkeypatch, mj_storage_steps="all")
    monkeypatch.setattr(storing, "is_last_step", lambda sig: False)  # a chain goes on after it
    job = eng.imagine("a lighthouse at dawn")
    assert eng.run_until(eng.done(job), 10)
    assert "stored" not in eng.result(job)  # not held up
    assert eng.run_until(lambda: "stored" in eng.rt.records.load(job).result, 10)
    assert eng.rt.records.load(job).result["stored"]["thumbnail"]
    assert eng.stored[job] == [eng.outcomes[job]]


def test_a_storage_url_must_name_a_known_scheme_and_a_bucket() -> None:
    from config.settings import ConfigError, load_settings

    for bad in ("ftp://host/x", "s3://", "file://relative/path", "mj-results"):
        with pytest.raises(ConfigError, match="MJ_STORAGE_URL"):
            load_settings(mj_storage_url=bad)
    assert load_settings(mj_storage_url="s3://b/p/").mj_storage_url == "s3://b/p"
    assert load_settings(mj_storage_url="").mj_storage_url is None
