"""`MJ_VIDEO_CAP`: empty, video jobs share their account's cap; a number, they have their own
(a lane of the account: its own slots, line and engine hints), and images keep theirs."""

from __future__ import annotations

import pytest

from tests.support.engine import FAST, KEY_A, LABEL_A, account, build_engine
from tests.support.inline import InlineEngine
from tests.support.simulators import SimFactory
from worker.capacity.lanes import base_of, lane_of
from worker.devtools.simulator import Simulator
from worker.jobs.record import RecordState

FRAME = "https://cdn.example.com/frame.png"


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim(keys=[KEY_A], capacity=10, fast_s=FAST)  # TTAPI's own cap is far away


def crowd(eng: InlineEngine) -> list[str]:
    """Three stuck imagines and three videos, all on account A."""
    images = [eng.imagine(f"a stuck lighthouse {i}") for i in range(3)]
    videos = [eng.submit("video", {"image": FRAME, "prompt": f"a gull {i}"}) for i in range(3)]
    return images + videos


def test_without_a_video_cap_videos_share_the_accounts_places(sim: Simulator) -> None:
    eng = build_engine(sim, capacity=3, fast_s=FAST)
    jobs = crowd(eng)
    assert eng.run_until(lambda: account(sim)["in_progress"] == 3, 5)
    assert [eng.state(j) for j in jobs[3:]] == [RecordState.WAITING] * 3  # behind the stuck images
    assert eng.rt.pool.guard_labels == [LABEL_A]


@pytest.mark.slow
def test_with_a_video_cap_videos_have_places_of_their_own(sim: Simulator) -> None:
    eng = build_engine(sim, capacity=3, fast_s=FAST, mj_video_cap=2)
    jobs = crowd(eng)
    lane = lane_of(LABEL_A, "video", 2)
    assert eng.rt.pool.guard_labels == [LABEL_A, lane]
    assert eng.run_until(lambda: account(sim)["in_progress"] == 5, 5)  # 3 images + 2 videos
    states = [eng.state(j) for j in jobs]
    assert states[:3] == ["SUBMITTED"] * 3 and sorted(states[3:]) == [
        "SUBMITTED",
        "SUBMITTED",
        "WAITING",
    ]
    assert (eng.holders(LABEL_A), eng.holders(lane)) == (3, 2)
    sim.finish_stuck()
    assert eng.run_until(eng.all_done, 15)
    results = [eng.result(j) for j in jobs]
    assert {r["account"] for r in results} == {LABEL_A}  # callers never see the lane
    assert account(sim)["count_499"] == 0
    assert eng.holders(LABEL_A) == eng.holders(lane) == 0


def test_a_lane_is_named_after_its_account_and_only_video_kinds_take_it() -> None:
    assert lane_of("acct-1", "video", 4) == "acct-1~video"
    assert lane_of("acct-1", "video_extend", 4) == "acct-1~video"
    assert lane_of("acct-1", "imagine", 4) == lane_of("acct-1", "edit", 4) == "acct-1"
    assert lane_of("acct-1", "video", None) == "acct-1"
    assert base_of("acct-1~video") == base_of("acct-1") == "acct-1"
