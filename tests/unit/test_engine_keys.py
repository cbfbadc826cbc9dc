"""Keys that change during a rollout: a key rotated on the same TTAPI account keeps its label and
its jobs; a key is taken for removed only once no live worker serves it (its heartbeat)."""

from __future__ import annotations

import json
import time

import pytest

from config.settings import ConfigError, Settings, load_settings
from tests.support.engine import KEY_A, KEY_B, LABEL_A, LABEL_B, build_engine, submits
from tests.support.inline import InlineEngine
from tests.support.simulators import SimFactory
from worker.devtools.simulator import Simulator
from worker.jobs.record import RecordState

KEY_A2 = "sk-engine-aaaa-0001-rotated"  # the same TTAPI account as KEY_A, after a rotation
QUICK = {"mj_http_connect_timeout_s": 0.5, "mj_http_read_timeout_s": 0.5}


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A, KEY_B], capacity=200, fast_s=1.5)


def restarted(eng: InlineEngine, keys: str) -> None:
    """Every process of this node restarted with TTAPI_API_KEYS=`keys` (same Redis)."""
    time.sleep(0.05)  # started after the processes before it
    values = {**eng.rt.settings.model_dump(), "ttapi_api_keys": keys, "ttapi_api_key": None}
    eng.restart(Settings(**values))
    eng.pump_every = 0.2


def heartbeat(eng: InlineEngine, host: str, labels: list[str] | None) -> None:
    """A live worker's heartbeat, listing the accounts it serves (None: an older worker)."""
    now = eng.rt.clock()
    beat: dict[str, object] = {"at": now, "since": now, "queues": ["celery"], "pid": 1}
    beat["stale_after"] = 60.0
    if labels is not None:
        beat["labels"] = labels
    eng.rt.redis.hset(eng.rt.keys.workers, host, json.dumps(beat))


def test_a_key_rotated_on_the_same_account_keeps_its_label_and_every_job_ends_once(
    sim: Simulator,
) -> None:
    eng = build_engine(sim, KEY_A, capacity=2, fast_s=8.0, **QUICK)
    jobs = [eng.imagine(f"a rotated key {i}") for i in range(3)]  # two run, one waits
    assert eng.holders(LABEL_A) == 2
    sim.rotate_key(KEY_A, KEY_A2)  # TTAPI: the account's new key; the old one stops working
    restarted(eng, f"{LABEL_A}={KEY_A2}")  # the new key keeps the old one's label
    heartbeat(eng, "new@node", [LABEL_A])
    assert eng.run_until(eng.all_done, 20)
    assert [eng.result(j)["account"] for j in jobs] == [LABEL_A] * 3
    assert submits(sim) == 3  # none paid twice, none lost


def test_a_key_a_live_worker_still_serves_is_not_taken_for_removed(sim: Simulator) -> None:
    eng = build_engine(sim, KEY_A, capacity=2, fast_s=8.0, **QUICK)
    jobs = [eng.imagine(f"an old node's stuck job {i}") for i in range(2)]  # they never end
    restarted(eng, KEY_B)  # a node of the new deploy, without KEY_A...
    heartbeat(eng, "old@node", [LABEL_A])  # ...while a node of the old one still runs
    heartbeat(eng, "new@node", [LABEL_B])
    eng.run_until(lambda: False, 1.5)  # several pump rounds and sweeps
    assert [eng.state(j) for j in jobs] == [RecordState.SUBMITTED] * 2  # the old node's jobs
    eng.rt.redis.hdel(eng.rt.keys.workers, "old@node")  # the old node stops
    assert eng.run_until(eng.all_done, 10)
    assert all(f"account {LABEL_A} was removed" in eng.error(j) for j in jobs)


def test_jobs_of_a_key_added_then_rolled_back_end_clearly_instead_of_hanging(
    sim: Simulator,
) -> None:
    eng = build_engine(sim, KEY_A, KEY_B, capacity=2, fast_s=8.0, **QUICK)
    jobs = [eng.submit("imagine", {"prompt": "stuck on b", "mode": "fast"}, account=LABEL_B)]
    restarted(eng, KEY_A)  # rolled back to the deploy without KEY_B...
    eng.rt.redis.hset(eng.rt.keys.labels, LABEL_B, eng.rt.clock() + 1)  # ...started before it
    heartbeat(eng, "rolled-back@node", [LABEL_A])
    assert eng.run_until(eng.all_done, 10)
    assert f"account {LABEL_B} was removed" in eng.error(jobs[0])


def test_a_key_may_keep_an_accounts_label_and_one_label_has_one_key() -> None:
    settings = load_settings(ttapi_api_keys=f"{KEY_B}, {LABEL_A}={KEY_A2}")
    assert [a.label for a in settings.accounts()] == [LABEL_B, LABEL_A]
    assert settings.accounts()[1].key.get_secret_value() == KEY_A2
    with pytest.raises(ConfigError, match=f"{LABEL_A} is given two keys") as info:
        load_settings(ttapi_api_keys=f"{KEY_A},{LABEL_A}={KEY_A2}")
    assert KEY_A2 not in str(info.value) and KEY_A not in str(info.value)
