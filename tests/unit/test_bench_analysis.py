"""The benchmark's pure analysis: limits, utilisation, hand-offs, slots over time, the table."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from typing import Any

from tests.bench import analysis, report
from tests.bench.cost import (
    Cost,
    calls_diff,
    command_calls,
    cpu_by_role,
    cpu_diff,
    tree_sample,
)
from tests.bench.scenarios import SCENARIOS, quick, select


def job(submitted: float, finished: float | None, label: str = "acct-a", fetches: int = 1) -> Any:
    """A job as the simulator's stats show it."""
    return {"label": label, "submitted_at": submitted, "finished_at": finished, "fetches": fetches}


def waves(n: int, cap: int, length: float, gap: float = 0.0, label: str = "acct-a") -> list[Any]:
    """`n` jobs run back to back on `cap` slots, each next one `gap` after a slot frees."""
    jobs = []
    for i in range(n):
        start = (i // cap) * (length + gap)
        jobs.append(job(start, start + length, label))
    return jobs


def test_the_limit_of_100_exact_two_second_jobs_on_cap_10_is_20_seconds() -> None:
    assert analysis.physical_limit(waves(100, 10, 2.0), 10) == 20.0


def test_the_limit_is_total_job_time_over_cap_when_durations_vary() -> None:
    jobs = [job(0, 1.5), job(0, 2.5), job(0, 2.0), job(0, 2.0)]
    assert analysis.physical_limit(jobs, 2) == 4.0


def test_the_limit_is_never_below_the_longest_job() -> None:
    assert analysis.physical_limit([job(0, 5.0), job(0, 1.0)], 10) == 5.0


def test_the_limit_of_several_accounts_pools_their_places() -> None:
    jobs = waves(20, 10, 2.0, label="a") + waves(40, 10, 2.0, label="b")
    assert analysis.physical_limit(jobs, 10) == 6.0
    assert analysis.physical_limit(jobs, 10, accounts=3) == 4.0


def test_another_client_holding_7_of_10_slots_for_8_s_makes_40_jobs_take_14_s() -> None:
    assert analysis.greedy_makespan([2.0] * 40, 10, [(8.0, 7)]) == 14.0
    assert analysis.physical_limit(waves(40, 10, 2.0), 10, [(8.0, 7)]) == 14.0


def test_utilisation_is_limit_over_makespan_and_nan_without_a_makespan() -> None:
    assert analysis.utilisation(20.0, 25.0) == 0.8
    assert math.isnan(analysis.utilisation(20.0, 0.0))


def test_a_hand_off_is_the_kth_end_to_the_cap_plus_kth_submit() -> None:
    gaps = analysis.handoff_gaps(waves(30, 10, 2.0, gap=0.05), 10)
    assert len(gaps) == 20
    assert all(math.isclose(g, 0.05) for g in gaps)


def test_hand_offs_are_counted_per_account() -> None:
    jobs = waves(4, 2, 1.0, gap=0.1, label="a") + waves(4, 2, 1.0, gap=0.3, label="b")
    assert sorted(round(g, 3) for g in analysis.handoff_gaps(jobs, 2)) == [0.1, 0.1, 0.3, 0.3]


def test_slots_freed_by_another_client_count_from_their_release() -> None:
    jobs = [job(0.0, 2.0), job(5.5, 7.5), job(5.0, 7.0)]
    # cap 2, the other client holds 1 until 5 s: our slot frees at 2 s, theirs at 5 s; the
    # submit at 5.0 takes the place freed first (3 s), the one at 5.5 the released one.
    gaps = analysis.handoff_gaps(jobs, 2, [(5.0, 1)])
    assert sorted(gaps) == [0.5, 3.0]


def test_hand_offs_say_when_each_place_was_freed_and_may_count_from_when_it_was_seen() -> None:
    jobs = waves(30, 10, 2.0, gap=0.05)
    for j in jobs:
        j["seen_end_at"] = j["finished_at"] + 0.02  # the fetch that saw the end came 20 ms late
    pairs = analysis.handoffs(jobs, 10)
    assert [round(t, 3) for t, _ in pairs[:2]] == [2.0, 2.0]
    assert all(math.isclose(g, 0.05) for _, g in pairs)
    seen = analysis.handoff_gaps(jobs, 10, end="seen_end_at")
    assert len(seen) == 20 and all(math.isclose(g, 0.03) for g in seen)


def test_ends_nobody_waited_for_give_no_hand_off() -> None:
    assert analysis.handoff_gaps([job(0, 1), job(0, 1)], 10) == []


def test_percentile_takes_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert analysis.percentile(values, 50) == 50.0
    assert analysis.percentile(values, 99) == 99.0
    assert math.isnan(analysis.percentile([], 50))


def test_slots_over_time_steps_up_at_submits_and_down_at_ends() -> None:
    series = analysis.slots_series([job(0.5, 2.5), job(1.0, 3.0)])
    assert series == [(0.0, 0), (0.5, 1), (1.0, 2), (2.5, 1), (3.0, 0)]


def test_a_hand_off_at_one_instant_shows_no_spike_over_the_cap() -> None:
    series = analysis.slots_series([job(0.0, 2.0), job(2.0, 4.0)])
    assert max(n for _, n in series) == 1


def test_unfinished_jobs_stay_in_use() -> None:
    assert analysis.slots_series([job(1.0, None)]) == [(0.0, 0), (1.0, 1)]


def test_rebase_moves_job_times_to_the_first_send() -> None:
    moved = analysis.rebase([job(10.5, 12.5)], 10.0)
    assert (moved[0]["submitted_at"], moved[0]["finished_at"]) == (0.5, 2.5)


def test_cpu_counts_growth_of_known_processes_and_all_of_new_ones() -> None:
    assert cpu_diff({1: 1.0, 2: 5.0}, {1: 1.5, 3: 0.25}) == 0.75


def test_redis_calls_are_a_per_command_diff_without_the_meters_own_info() -> None:
    before = command_calls({"cmdstat_get": {"calls": 3}, "cmdstat_info": {"calls": 1}})
    after = command_calls(
        {"cmdstat_get": {"calls": 10}, "cmdstat_lpush": {"calls": 20}, "cmdstat_info": {"calls": 2}}
    )
    assert calls_diff(before, after) == {"lpush": 20, "get": 7}


def test_cost_per_job_reports_cpu_ms_redis_commands_and_lpush_messages() -> None:
    roles = {"main": 0.5, "pool": 0.5, "engine": 1.0}
    cost = Cost(cpu_s=2.0, redis_calls={"lpush": 300, "brpop": 100}, cpu_roles=roles)
    assert cost.per_job(100) == {
        "cpu_ms_per_job": 20.0,
        "cpu_ms_per_job_by_role": {"engine": 10.0, "main": 5.0, "pool": 5.0},
        "redis_cmds_per_job": 4.0,
        "celery_msgs_per_job": 3.0,
    }


def test_cpu_is_split_by_the_role_of_each_process_and_the_split_is_reported() -> None:
    before = {1: 1.0, 2: 2.0, 3: 0.5}
    after = {1: 1.5, 2: 3.0, 3: 0.75, 4: 0.25}  # 4 is new: a pool process started meanwhile
    roles = cpu_by_role(before, after, {1: "main", 2: "engine", 3: "pool"})
    assert roles == {"main": 0.5, "engine": 1.0, "pool": 0.5}
    row = {"scenario": "(c) burst", "run": "mj-worker 1 node", "jobs": 100}
    row |= Cost(cpu_s=2.0, cpu_roles=roles).per_job(100)
    expected = "- (c) burst / mj-worker 1 node: engine 10.0, main 5.0, pool 5.0"
    assert report.cpu_split_lines([row]) == [expected]
    assert report.cpu_split_lines([{**row, "cpu_ms_per_job_by_role": {"main": 20.0}}]) == []


def summary(**changes: Any) -> dict[str, Any]:
    """A row for 30 exact 2 s jobs on cap 10 that took 8 s."""
    options: dict[str, Any] = {
        "scenario": "(a) test",
        "run": "mj-worker 1 node",
        "jobs": 30,
        "cap": 10,
        "makespan_s": 8.0,
        "ok": 30,
        "stats": {
            "jobs": {str(i): j for i, j in enumerate(waves(30, 10, 2.0, gap=0.1))},
            "accounts": {"acct-a": {"count_499": 2, "submits": 30, "peak_in_progress": 10}},
        },
        "cost": Cost(cpu_s=0.3, redis_calls={"evalsha": 600}),
    }
    return report.summarise(**{**options, **changes})


def test_a_row_has_limit_utilisation_499s_cost_and_hand_offs() -> None:
    row = summary()
    assert (row["limit_s"], row["utilisation"], row["count_499"]) == (6.0, 0.75, 2)
    assert (row["cpu_ms_per_job"], row["redis_cmds_per_job"]) == (10.0, 20.0)
    assert row["handoff_p50_ms"] == 100.0


def test_the_markdown_table_has_a_header_a_rule_and_one_line_per_row() -> None:
    lines = report.markdown_table([summary(), summary(run="docs-style")]).splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("| scenario | run | limit s | makespan s | util |")
    assert lines[2].startswith("| (a) test | mj-worker 1 node | 6.0 | 8.0 | 75% | 6.0 | 97% | 30 |")
    assert lines[1].count("---") == len(report.COLUMNS)


def test_missing_or_nan_cells_show_as_a_dash() -> None:
    assert report.cell(float("nan"), "{:.0f}") == "–"
    assert report.cell(None, "{}") == "–"


def test_scenarios_run_in_a_to_h_order_and_quick_ones_are_smaller() -> None:
    chosen = select(["d", "a"], is_quick=True)
    assert [s.key for s in chosen] == ["a", "d"]
    assert all(s.jobs < SCENARIOS[s.key].jobs for s in chosen)
    assert quick(SCENARIOS["e"]).fast_s < SCENARIOS["e"].fast_s


def test_the_docs_style_polls_every_half_second_for_two_second_jobs() -> None:
    assert SCENARIOS["a"].docs_poll_s == 0.5
    assert SCENARIOS["c"].docs_concurrency == 40


def test_a_tree_sample_gives_each_live_process_its_cpu_and_its_role() -> None:
    wait = "import sys, time; sys.stdin.read()"  # until its stdin closes
    children = [
        subprocess.Popen([sys.executable, "-c", wait, *argv], stdin=subprocess.PIPE)
        for argv in (["worker.adapter.engine_process", "--node", "n"], ["pool-like"])
    ]
    try:
        cpu, roles = tree_sample([os.getpid()])
        engine, pool = (child.pid for child in children)
        assert roles[os.getpid()] == "main"
        assert (roles[engine], roles[pool]) == ("engine", "pool")
        assert set(cpu) == set(roles)
        assert cpu[os.getpid()] > 0
    finally:
        for child in children:
            assert child.stdin is not None
            child.stdin.close()
            child.wait(timeout=10)
