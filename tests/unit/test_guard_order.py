"""Property test of the hand-off order: every freed place goes by the written rules.

Random tenants' jobs (weights 1, 2 and 5; three priority classes; fresh jobs, follow-ups and
refused ones) queue on one account of one place, and random holding times pass on the fake
clock between hand-offs. For each place freed, the job it went to must be, from the state just
before (read from Redis: the waiters and decayed usage; counted here: how often in a row each class
and each tenant was passed over):

1. of the most urgent class with waiters, unless a less urgent class was passed over
   PASS_OVER_MAX times in a row (then the most urgent such class);
2. within its class, of the tenant furthest below its weighted share, the least
   `(decayed slot-time + half its average job) / weight` (the lowest bucket number on a tie),
   unless a tenant of the class was passed over TENANT_PASS_OVER_MAX times in a row (then the
   most passed over);
3. within its tenant and class, the first in line: refused, then follow-ups, then fresh jobs,
   each first come first served.

The bounds are lowered here (3 and 4) so that random runs reach them.
"""

from __future__ import annotations

import fakeredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.tenants import PRIORITIES, TenantSettings
from tests.support.lines import FakeClock, Queue, book_of, guard_on
from worker import policy
from worker.capacity.tenants import Line
from worker.keys import KEYS

A = "acct-order"
TENANTS = {"one": 1.0, "two": 2.0, "five": 5.0}
N, M = 3, 4  # the pass-over bounds, lowered

Put = tuple[str, str, int]  # tenant, priority, urgency
STEPS = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(sorted(TENANTS)), st.sampled_from(PRIORITIES), st.integers(0, 2)),
        st.floats(min_value=1, max_value=3000),  # a hand-off after this long a hold
    ),
    min_size=20,
    max_size=120,
)


@pytest.mark.slow
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=STEPS)
def test_every_freed_place_goes_by_class_then_share_then_line(
    steps: list[Put | float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(policy, "PASS_OVER_MAX", N)
    monkeypatch.setattr(policy, "TENANT_PASS_OVER_MAX", M)
    clock = FakeClock().install(monkeypatch)
    r = fakeredis.FakeRedis(decode_responses=True)
    book = book_of(r, **{name: TenantSettings(weight=w) for name, w in TENANTS.items()})
    guard = guard_on(r, book, cap=1)
    assert guard.acquire(A, "first").granted
    q, holder, arrival = Queue(guard, A), "first", {}
    passed: dict[str, int] = {}  # grants in a row that passed over a class (`s1`) or a tenant
    for i, step in enumerate(steps):
        if isinstance(step, tuple):
            job = f"j{i}"
            arrival[job] = i
            q.put(job, step[0], step[1], step[2])
            continue
        if not r.zcard(KEYS.waiters(A)):
            continue
        scores = {job: r.zscore(KEYS.waiters(A), job) for job in arrival}
        waiting = {job: int(score) for job, score in scores.items() if score is not None}
        clock.advance(step)
        (holder,) = guard.release(A, holder)
        expected = _next_by_the_rules(r, q, book.numbers, waiting, arrival, passed, holder, clock)
        assert holder in expected, (holder, expected)
        _count_passed_over(passed, [q.lines[j] for j in waiting], q.lines[holder])


def _next_by_the_rules(
    r: fakeredis.FakeRedis,
    q: Queue,
    numbers: dict[str, int],
    waiting: dict[str, int],
    arrival: dict[str, int],
    passed: dict[str, int],
    granted: str,
    clock: FakeClock,
) -> set[str]:
    """The jobs the rules allow next (a tie among the most passed over allows several)."""
    lines = {job: q.lines[job] for job in waiting}
    ranks = sorted({line.rank for line in lines.values()})
    serve = ranks[0]
    for rank in ranks[1:]:
        if passed.get(f"s{rank}", 0) >= N:
            serve = rank
            break
    buckets = sorted({line.bucket for line in lines.values() if line.rank == serve})
    tenants = {b: passed.get(f"p{serve}:{b}", 0) for b in buckets}
    most = max(tenants.values())
    if most >= M:
        chosen = {b for b, n in tenants.items() if n == most}
    else:
        keys = {b: _key(r, numbers, b, granted, clock) for b in buckets}
        low = min(keys.values())
        tied = sorted(b for b, k in keys.items() if k <= low * (1 + 1e-9))  # float noise
        chosen = {tied[0]} if len(tied) == 1 else set(tied)
    allowed = set()
    for bucket in chosen:
        line = [j for j in waiting if lines[j].rank == serve and lines[j].bucket == bucket]
        # a score is OFFSET + line + urgency * 1e11 + seq, every part but urgency a multiple of 3e11
        allowed.add(min(line, key=lambda j: (waiting[j] // 10**11 % 3, arrival[j])))
    return allowed


def _count_passed_over(passed: dict[str, int], lines: list[Line], granted: Line) -> None:
    """The written rule's counts: a grant passes over every less urgent class with waiters,
    and every other tenant with waiters in its own class; it ends the count of its own."""
    for rank in {line.rank for line in lines if line.rank > granted.rank}:
        passed[f"s{rank}"] = passed.get(f"s{rank}", 0) + 1
    passed[f"s{granted.rank}"] = 0
    for bucket in {line.bucket for line in lines if line.rank == granted.rank}:
        name = f"p{granted.rank}:{bucket}"
        passed[name] = 0 if bucket == granted.bucket else passed.get(name, 0) + 1


def _key(
    r: fakeredis.FakeRedis, numbers: dict[str, int], bucket: int, granted: str, clock: FakeClock
) -> float:
    """(decayed slot-time + half an average job) / weight, as it was just before the grant."""
    usage = r.hgetall(KEYS.pool[0])
    now = clock.now * 1000
    used = float(usage.get(f"u{bucket}", 0))
    if f"t{bucket}" in usage:
        used *= 2 ** (-(now - float(usage[f"t{bucket}"])) / (policy.SHARE_HALF_LIFE_S * 1000))
    held = r.hget(KEYS.guard_lines(A)[2], granted)
    if held and int(held.split("|")[0]) == bucket:
        used -= float(held.split("|")[4])  # the grant's own charge, not there before it
    est = float(usage.get(f"a{bucket}", usage.get("a", policy.GRANT_ESTIMATE_S * 1000)))
    name = {n: name for name, n in numbers.items()}[bucket]
    return (used + int(est) / 2) / TENANTS[name]
