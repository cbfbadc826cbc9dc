"""Result storage when things break, and when a result is read back: a copier killed mid-copy,
a re-run, the pump's hand-over, re-signed links, `mj.download` through the store's client.
Against moto's S3 server on loopback and the simulator, as tests/unit/test_storage.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.engine import FAST, KEY_A, build_engine, submits
from tests.support.inline import InlineEngine, Killed, Step
from tests.support.s3 import S3Server, presigned_signature_ok, storage_env
from tests.support.simulators import SimFactory
from worker.devtools.simulator import Simulator
from worker.jobs import hints, storing
from worker.jobs.download import AddressRefused, download_result
from worker.jobs.record import Storing
from worker.ops.show import show
from worker.ops.view import OpsView
from worker.storage import copy as copy_module
from worker.storage.local import download_stored
from worker.storage.target import storage_for

BUCKET = "mj-recovery"


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    server = S3Server(BUCKET).start()
    yield server
    server.stop()


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A], capacity=3, fast_s=FAST)


@pytest.fixture
def eng(sim: Simulator, s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> InlineEngine:
    env = storage_env(s3.endpoint, BUCKET)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return build_engine(
        sim,
        KEY_A,
        capacity=3,
        mj_storage_url=env["MJ_STORAGE_URL"],
        mj_download_allow_private=True,
        mj_engine_lease_s=1.0,  # a dead copier's claim lapses within a second
        mj_storage_link_ttl_s=600,
    )


def stored_result(eng: InlineEngine, prompt: str) -> tuple[str, dict[str, Any]]:
    job = eng.imagine(prompt)
    assert eng.run_until(eng.done(job), 10)
    return job, eng.result(job)


def test_a_copier_killed_mid_copy_leaves_the_job_to_another_engine_which_stores_it_once(
    eng: InlineEngine, s3: S3Server, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    real, calls = copy_module.copy_file, []

    def dies_on_the_third_file(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[2])
        if len(calls) == 3:
            raise Killed()  # the engine's process dies with two files stored
        return real(*args, **kwargs)

    monkeypatch.setattr("worker.storage.attempt.copy_file", dies_on_the_third_file)
    job = eng.imagine("a lighthouse")
    assert eng.run_until(lambda: bool(eng.killed), 10)
    assert job not in eng.outcomes and storing.claimed(eng.rt, job)
    eng.restart(eng.rt.settings)  # another engine; the dead one's claim lapses in a lease
    eng.pump_every = 0.2
    assert eng.run_until(eng.done(job), 10)
    assert any(p.get("storing") for p in eng.pumped)  # the pump handed it over
    result = eng.result(job)
    assert eng.stored[job] == [eng.outcomes[job]] and submits(sim) == 1
    assert (
        len(s3.keys(f"results/{result['stored']['objects']['thumbnail'].split('/thumb')[0]}")) == 10
    )
    assert not storing.claimed(eng.rt, job)


def test_a_rerun_of_a_copy_writes_the_same_names_and_no_others(
    eng: InlineEngine, s3: S3Server
) -> None:
    job, result = stored_result(eng, "a red fox")
    base = "results/" + result["stored"]["objects"]["image_url"].rsplit("/", 1)[0]
    before = s3.keys(base)
    # As if another engine copied it again from scratch (nothing noted as done).
    eng.rt.records.update(job, storing=Storing.HOLD, store_done="")
    eng.carry([storing.hand_over(eng.rt.records.load(job))])  # type: ignore[arg-type]
    assert eng.run_until(lambda: not eng.rt.records.load(job).storing, 10)
    assert s3.keys(base) == before and len(before) == 10


def test_the_pump_delivers_stored_null_when_no_engine_copies_past_the_retry_window(
    eng: InlineEngine,
) -> None:
    eng.core.storer = None  # no storage pool: the hand-over goes to the account's engine...
    eng.dispatcher.drop = lambda step: step.kind == "store"  # ...which never copies
    job = eng.imagine("a paper boat")
    assert eng.run_until(lambda: storing.held(eng.rt.records.load(job)), 10)
    eng.with_runtime(settings=eng.rt.settings.model_copy(update={"mj_storage_retry_s": 0.3}))
    eng.pump_every = 0.2
    assert eng.run_until(eng.done(job), 10)
    assert eng.result(job)["stored"] is None
    assert "no engine copied it" in eng.result(job)["storage_error"]
    assert int(eng.rt.redis.get(eng.rt.keys.storage_failures) or 0) == 1


def test_mjw_show_re_signs_the_stored_links(eng: InlineEngine, monkeypatch: Any) -> None:
    job, result = stored_result(eng, "a tiny robot")
    view = OpsView.on(eng.rt.settings, eng.rt.redis)
    later = eng.rt.clock() + 3600
    monkeypatch.setattr(view, "now", lambda: later)
    doc = show(view, job)
    assert doc is not None
    fresh = doc["result"]["stored"]
    assert fresh["links_expire_at"] == pytest.approx(later + 600, abs=1)
    assert fresh["objects"] == result["stored"]["objects"]
    assert presigned_signature_ok(fresh["image_url"])
    assert doc["stored"]["image_url"] and doc["thumbnail"].startswith("http://")
    assert requests.get(fresh["thumbnail"], timeout=5).status_code == 200


def test_a_download_of_a_stored_result_reads_through_the_stores_client(
    eng: InlineEngine, tmp_path: Path
) -> None:
    _, result = stored_result(eng, "a glass teapot")
    storage = storage_for(eng.rt.settings)
    assert storage is not None
    got = download_stored(result, tmp_path, storage, max_bytes=10**6)
    names = sorted(Path(f["path"]).name for f in got["files"])
    assert names == ["1.png", "2.png", "3.png", "4.png", "main.png"]
    main = next(f for f in got["files"] if f["path"].endswith("main.png"))
    assert Path(main["path"]).read_bytes() == requests.get(result["image_url"], timeout=5).content
    # Its links lead to a private address, which a plain download refuses.
    with pytest.raises(AddressRefused):
        download_result({**result, "image_url": result["stored"]["image_url"]}, tmp_path)


def test_a_store_hint_reaches_the_storage_pool_of_the_accounts_engine(
    eng: InlineEngine,
) -> None:
    job, _ = stored_result(eng, "a cat astronaut")
    eng.rt.records.update(job, storing=Storing.HOLD)
    # Handed over from a process that runs no engine (the webhook receiver): a hint.
    rec = eng.rt.records.load(job)
    assert rec is not None
    label, hint = hints.ask(storing.hand_over(rec), eng.rt.clock())
    hints.push(eng.rt.redis, eng.rt.keys, label, [hint])
    eng.run_due()
    assert Step("store", job) in eng.dispatcher.ran[-3:]
    assert eng.pump().get("storing") == 0
