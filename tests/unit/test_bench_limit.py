"""The latency-aware limit, the bench's latency scenarios (f)-(h) and repeated runs' medians."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from tests.bench import analysis, limit, report
from tests.bench.cost import Cost
from tests.bench.scenarios import SCENARIOS, quick, select, with_round_trips


def job(submitted: float, finished: float | None, label: str = "acct-a") -> dict[str, Any]:
    """A job as the simulator's stats show it (`submitted_at` is its creation at TTAPI)."""
    return {"label": label, "submitted_at": submitted, "finished_at": finished, "fetches": 1}


def waves(n: int, cap: int, length: float, gap: float = 0.0, label: str = "acct-a") -> list[Any]:
    """`n` jobs of `length` on `cap` slots, each next one created `gap` after a slot frees."""
    return [
        job((i // cap) * (length + gap), (i // cap) * (length + gap) + length, label)
        for i in range(n)
    ]


def test_a_hand_off_costs_half_a_fetch_and_half_a_submit_round_trip() -> None:
    assert limit.handoff_cost(0.25, 0.6) == pytest.approx(0.425)
    stats = {"faults": {"latency_fetch_s": 0.25, "latency_submit_s": 0.6}}
    assert limit.handoff_cost_of(stats) == pytest.approx(0.425)
    assert limit.handoff_cost_of({}) == 0.0


def test_without_latency_the_limit_is_the_physical_limit() -> None:
    jobs = waves(100, 10, 2.0)
    assert limit.latency_aware_limit(jobs, 10, 0.0) == analysis.physical_limit(jobs, 10) == 20.0
    held = [(8.0, 7)]
    assert limit.latency_aware_limit(waves(40, 10, 2.0), 10, 0.0, held) == 14.0


def test_without_latency_uneven_durations_keep_the_limit_near_the_physical_one() -> None:
    # The physical limit of uneven jobs is a bound (total time / places) no schedule may reach;
    # the latency-aware one is a real schedule in TTAPI's order, so it is a little above.
    rng = random.Random(16)
    starts = sorted(rng.uniform(0, 0.5) for _ in range(100))
    jobs = [job(s, s + 2.0 * rng.uniform(0.8, 1.2)) for s in starts]
    physical = analysis.physical_limit(jobs, 10)
    assert physical <= limit.latency_aware_limit(jobs, 10, 0.0) <= 1.1 * physical


def test_every_later_job_waits_the_hand_off_cost_after_its_slot_frees() -> None:
    # 100 jobs of 2 s on cap 10: 10 waves and 9 hand-offs of 0.425 s.
    assert limit.latency_aware_limit(waves(100, 10, 2.0), 10, 0.425) == pytest.approx(23.825)


def test_jobs_are_taken_in_the_order_ttapi_created_them() -> None:
    # Created 1 s, 1 s, then 4 s on cap 2: the 4 s job starts when a 1 s one frees (at 1 + 0.5).
    jobs = [job(0.2, 4.2), job(0.0, 1.0), job(0.1, 1.1)]
    assert limit.latency_aware_limit(jobs, 2, 0.5) == pytest.approx(5.5)


def test_each_accounts_first_cap_jobs_start_at_the_runs_first_creation() -> None:
    # Account b's first jobs were created 5 s late: the perfect client starts them at once.
    late = [job(5.0, 7.0, "b"), job(5.0, 7.0, "b"), job(7.5, 9.5, "b")]
    jobs = [*waves(4, 2, 2.0, label="a"), *late]
    assert limit.latency_aware_limit(jobs, 2, 0.5) == pytest.approx(4.5)
    assert limit.ttapi_span(jobs) == 9.5


def test_a_client_that_hands_over_at_exactly_the_cost_reaches_the_whole_limit() -> None:
    jobs = waves(30, 10, 2.0, gap=0.5)
    assert limit.ttapi_span(jobs) == 7.0
    aware = limit.latency_aware_limit(jobs, 10, 0.5)
    assert aware == 7.0 and limit.latency_share(aware, limit.ttapi_span(jobs)) == 1.0
    slower = waves(30, 10, 2.0, gap=1.5)
    assert limit.latency_share(7.0, limit.ttapi_span(slower)) == pytest.approx(7.0 / 9.0)


def test_jobs_that_never_ended_are_left_out_and_no_jobs_give_nothing() -> None:
    assert limit.latency_aware_limit([job(0.0, 2.0), job(0.0, None)], 10, 0.4) == 2.0
    assert (limit.latency_aware_limit([], 10, 0.4), limit.ttapi_span([])) == (0.0, 0.0)
    assert math.isnan(limit.latency_share(1.0, 0.0))


def test_a_row_reports_the_latency_aware_limit_from_the_stats_round_trips() -> None:
    stats = {
        "jobs": {str(i): j for i, j in enumerate(waves(30, 10, 2.0, gap=0.6))},
        "accounts": {"acct-a": {"count_499": 0, "submits": 30, "peak_in_progress": 10}},
        "faults": {"latency_fetch_s": 0.25, "latency_submit_s": 0.6},
    }
    row = report.summarise(
        scenario="(f) test",
        run="docs-style",
        jobs=30,
        cap=10,
        makespan_s=9.0,
        ok=30,
        stats=stats,
        cost=Cost(cpu_s=0.1, redis_calls={}),
    )
    assert (row["handoff_cost_ms"], row["latency_limit_s"], row["ttapi_span_s"]) == (
        425.0,
        6.85,
        7.2,
    )
    assert row["latency_share"] == pytest.approx(6.85 / 7.2, abs=1e-4)
    assert row["utilisation"] == pytest.approx(6.0 / 9.0, abs=1e-4)


def test_repeated_runs_add_one_median_row_per_run() -> None:
    rows = [
        {"scenario": "(f) x", "run": "docs-style", "makespan_s": m, "latency_share": s}
        for m, s in ((70.0, 0.8), (60.0, float("nan")), (65.0, 0.9))
    ] + [{"scenario": "(f) x", "run": "mj-worker 1 node", "makespan_s": 61.0}]
    (median,) = report.median_rows(rows)
    assert median["run"] == "docs-style (median of 3)"
    assert (median["makespan_s"], median["latency_share"]) == (65.0, pytest.approx(0.85))
    assert math.isnan(median["limit_s"])


def test_the_latency_scenarios_pay_0_6_s_per_submit_and_0_25_s_per_fetch() -> None:
    for key in "fgh":
        sc = SCENARIOS[key]
        assert (sc.latency_submit_s, sc.latency_fetch_s) == (0.6, 0.25)
        assert float(sc.env["MJ_POLL_MIN_S"]) == pytest.approx(0.025 * sc.fast_s)
    f, g, h = SCENARIOS["f"], SCENARIOS["g"], SCENARIOS["h"]
    assert (f.jobs, f.accounts, f.fast_s, f.jitter) == (60, 1, 10.0, 0.2)
    assert (g.jobs, g.accounts, g.fast_s, g.jitter) == (400, 4, 10.0, 0.2)
    assert (h.jobs, h.accounts, h.fast_s, h.jitter) == (1000, 4, 4.0, 0.0)
    assert all(SCENARIOS[k].latency_fetch_s == 0.0 for k in "abcde")


def test_the_latency_scenarios_run_alone_and_have_smaller_quick_versions() -> None:
    assert [s.key for s in select(["h", "f"])] == ["f", "h"]
    for key in "fgh":
        small = quick(SCENARIOS[key])
        assert small.jobs < SCENARIOS[key].jobs and small.latency_submit_s == 0.6


def test_any_scenario_can_run_with_round_trips() -> None:
    slow = with_round_trips(SCENARIOS["a"], 0.6, 0.25)
    assert (slow.latency_submit_s, slow.latency_fetch_s, slow.jobs) == (0.6, 0.25, 100)
    assert slow.title.endswith("(submit 0.6 s / fetch 0.25 s)")
    assert with_round_trips(SCENARIOS["f"], 0.6, 0.25) == SCENARIOS["f"]
