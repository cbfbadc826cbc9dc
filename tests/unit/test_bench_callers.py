"""The bench's pooled limit and its mixed-callers scenarios (j) and (k), on made-up job stats."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bench import limit, mixed
from tests.bench.scenarios import SCENARIOS, quick


def job(
    created: float, ended: float | None, label: str = "acct-a", prompt: str = "p"
) -> dict[str, Any]:
    """A job as the simulator's stats show it."""
    return {"label": label, "submitted_at": created, "finished_at": ended, "prompt": prompt}


def test_the_pooled_limit_lets_any_job_go_to_any_account() -> None:
    # 4 accounts of 10 places, 10 s jobs: 44 jobs where one account got 14 of them. Kept on
    # their accounts, the 4 extra ones cost a second wave; pooled, they fit the first.
    jobs = [job(0.0, 10.0, f"acct-{i % 4}") for i in range(40)]
    jobs += [job(10.5, 20.5, "acct-0") for _ in range(4)]
    per_account = limit.latency_aware_limit(jobs, 10, 0.5)
    pooled = limit.pooled_latency_aware_limit(jobs, 10, 4, 0.5)
    assert per_account == pytest.approx(20.5)
    assert pooled == pytest.approx(20.5)  # 44 > 40 places: a second wave either way
    spread = [job(0.0, 10.0, "acct-0") for _ in range(14)] + [
        job(0.0, 10.0, f"acct-{1 + i % 3}") for i in range(26)
    ]
    assert limit.latency_aware_limit(spread, 10, 0.5) == pytest.approx(20.5)
    assert limit.pooled_latency_aware_limit(spread, 10, 4, 0.5) == pytest.approx(10.0)
    assert limit.pooled_latency_aware_limit([], 10, 4, 0.5) == 0.0


def test_the_share_counts_only_while_both_tenants_have_jobs_waiting() -> None:
    jobs = [job(t, t + 2, prompt=f"bench k heavy normal {t}") for t in range(0, 30, 1)]
    jobs += [job(t, t + 2, prompt=f"bench k light normal {t}") for t in range(0, 10, 1)]
    jobs += [job(t, t + 2, prompt=f"bench k light normal x{t}") for t in range(30, 40, 1)]
    # light's last job is created at 39, heavy's at 29: the window ends at 29
    share = mixed.share_while_backlogged(jobs, "heavy", "light")
    assert share == pytest.approx(30 / 40, abs=0.02)
    assert mixed.measures(mixed.SHARES, jobs, {})["goal_met"] is True
    assert mixed.share_while_backlogged(jobs[:30], "heavy", "light") is None


def test_the_last_high_job_must_start_within_the_longest_job_and_2_s() -> None:
    lows = [job(0.0, 2.4, prompt=f"bench j batch low {i}") for i in range(10)]
    highs = [job(5.0 + i * 0.1, 7.0, prompt=f"bench j web high {i}") for i in range(10)]
    found = mixed.measures(mixed.PRIORITY, lows + highs, {"high_sent_at": 3.0})
    assert found == {"last_high_start_s": 2.9, "longest_job_s": 2.4, "goal_met": True}
    late = mixed.priority_measures(lows + highs, 0.0)
    assert late["goal_met"] is False  # 5.9 s > 2.4 + 2
    assert mixed.priority_measures(lows, 3.0)["goal_met"] is False  # the highs never started


def test_the_mixed_scenarios_name_their_callers_and_have_quick_versions() -> None:
    i, j = SCENARIOS["j"], SCENARIOS["k"]
    assert (i.jobs, j.jobs) == (210, 300) and quick(i).jobs == 110 and quick(j).jobs == 120
    calls = [mixed.call_of(i.callers, "j", i.jobs, n) for n in range(i.jobs)]
    assert calls[0][1:] == ("batch", "low") and calls[-1][1:] == ("web", "high")
    assert sum(c[2] == "high" for c in calls) == mixed.HIGH
    assert mixed.pause_before(i.callers, i.jobs, 200) and not mixed.pause_before("shares", 300, 200)
    shares = [mixed.call_of(j.callers, "k", j.jobs, n)[1] for n in range(4)]
    assert shares == ["heavy", "light", "heavy", "light"]
    assert "MJ_TENANTS" in i.env and '"weight": 3' in j.env["MJ_TENANTS"]
