"""The engine's parts on their own: its timers, its hints, and how nodes share the accounts."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import fakeredis
import pytest

from config.settings import Settings, account_label
from worker.engine.core import Action
from worker.engine.ownership import Ownership
from worker.engine.timers import Timers
from worker.jobs import hints
from worker.jobs.runtime import Runtime

KEYS = [f"sk-parts-{i:04d}-key" for i in range(5)]
LABELS = [account_label(k) for k in KEYS]


def runtime(server: fakeredis.FakeServer, n: int = 5) -> Runtime:
    settings = Settings(ttapi_api_keys=",".join(KEYS[:n]))
    client = fakeredis.FakeRedis(server=server, decode_responses=True)
    return Runtime.build(settings, client)


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


# -- timers ----------------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.done: list[tuple[Action, float]] = []
        self.event = threading.Event()

    def __call__(self, action: Action) -> None:
        self.done.append((action, time.monotonic()))
        self.event.set()


@pytest.fixture
def timers() -> tuple[Timers, Recorder]:
    rec = Recorder()
    pool = ThreadPoolExecutor(4)
    t = Timers(pool, rec)
    thread = threading.Thread(target=t.run, daemon=True)
    thread.start()
    yield t, rec  # type: ignore[misc]
    t.stop()
    thread.join(2)
    pool.shutdown()


def test_an_action_runs_when_due_and_not_before(timers: tuple[Timers, Recorder]) -> None:
    t, rec = timers
    started = time.monotonic()
    t.later(Action("poll", "j1", 1), 0.3)
    assert t.pending("poll", "j1")
    assert rec.event.wait(2)
    [(action, at)] = rec.done
    assert action == Action("poll", "j1", 1) and at - started >= 0.29
    assert not t.pending("poll", "j1")


def test_an_earlier_time_for_the_same_action_wins_and_it_runs_once(
    timers: tuple[Timers, Recorder],
) -> None:
    t, rec = timers
    t.later(Action("fill", "acct"), 5.0)
    t.later(Action("fill", "acct"), 0.05)  # sooner: the 5 s one is superseded
    t.later(Action("fill", "acct"), 3.0)  # later than the one waiting: nothing changes
    assert rec.event.wait(2)
    time.sleep(0.2)
    assert [a for a, _ in rec.done] == [Action("fill", "acct")]
    assert t.size() == 0


def test_an_action_scheduled_sooner_than_the_one_waited_for_wakes_the_timer(
    timers: tuple[Timers, Recorder],
) -> None:
    t, rec = timers
    t.later(Action("scan", "acct"), 10.0)
    time.sleep(0.05)  # the timer thread now sleeps until the scan is due
    started = time.monotonic()
    t.later(Action("submit", "j2", label="acct"), 0.0)
    assert rec.event.wait(2)
    assert rec.done[0][0].kind == "submit" and rec.done[0][1] - started < 1.0


# -- hints -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("fill", hints.Hint("fill")),
        (hints.fill_hint(1234), hints.Hint("fill", due_ms=1234)),
        (hints.submit_hints(["a|b"])[0], hints.Hint("submit", job_id="a|b")),
        (hints.poll_hint("job-1", 7, 99), hints.Hint("poll", job_id="job-1", seq=7, due_ms=99)),
        ("poll|x|y|z", None),
        ("nonsense", None),
        (b"fill", hints.Hint("fill")),
    ],
)
def test_a_hint_reads_back_as_written_and_anything_else_is_ignored(
    text: str | bytes, hint: hints.Hint | None
) -> None:
    assert hints.parse(text) == hint


def test_queueing_where_a_slot_is_free_hints_the_engine_once(server: fakeredis.FakeServer) -> None:
    rt = runtime(server, 1)
    label = LABELS[0]
    first = rt.guard.enqueue(label, "j1")
    second = rt.guard.enqueue(label, "j2")
    assert (first.free, first.position) == (True, 1)
    assert rt.redis.lrange(rt.keys.wake(label), 0, -1) == ["fill"]  # one hint is enough
    assert second.free  # cap 10: a slot for it too
    assert rt.guard.fill(label) == ["j1", "j2"]
    assert rt.guard.enqueue(label, "j1").holds  # holds a slot: hinted to be submitted
    assert rt.redis.lrange(rt.keys.wake(label), 0, -1) == ["fill", "submit|j1"]


def test_a_place_in_a_full_line_counts_only_the_jobs_ahead_once_free_slots_went_out(
    server: fakeredis.FakeServer,
) -> None:
    rt = runtime(server, 1)
    label = LABELS[0]
    rt.guard.set_cap(label, 1)
    assert rt.guard.enqueue(label, "a").free
    second = rt.guard.enqueue(label, "b")
    assert (second.free, second.position) == (False, 1)  # "a" takes the one slot: "b" is next


# -- ownership -------------------------------------------------------------------------------


def test_nodes_share_the_accounts_evenly_and_each_account_has_one_engine(
    server: fakeredis.FakeServer,
) -> None:
    a = Ownership(runtime(server), "node-a", lease_s=60)
    b = Ownership(runtime(server), "node-b", lease_s=60)
    taken_a, _ = a.beat()
    assert sorted(taken_a) == sorted(LABELS)  # alone: every account
    b.beat()  # b is live now; a gives back what is above its share...
    _, lost_a = a.beat()
    b.beat()  # ...and b takes it
    assert len(lost_a) == 2
    assert sorted(a.held + b.held) == sorted(LABELS)
    assert (len(a.held), len(b.held)) in ((3, 2), (2, 3))
    assert not set(a.held) & set(b.held)


def test_a_node_that_stops_renewing_loses_its_accounts_within_one_lease(
    server: fakeredis.FakeServer,
) -> None:
    lease = 0.6
    a = Ownership(runtime(server), "node-a", lease_s=lease)
    b = Ownership(runtime(server), "node-b", lease_s=lease)
    a.beat()
    assert len(a.held) == 5 and b.beat() == ([], [])
    time.sleep(lease)  # a stalls: no beat for a whole lease
    assert a.held == []  # it knows by its own clock before anyone tells it
    taken, _ = b.beat()  # a no longer counts as live: b's share is every account
    assert sorted(taken) == sorted(b.held) == sorted(LABELS)
    _, lost = a.beat()  # a wakes: its renewals fail
    assert sorted(lost) == sorted(LABELS) and a.held == []


def test_an_account_renewed_after_its_engine_s_clock_said_it_lapsed_is_taken_again(
    server: fakeredis.FakeServer,
) -> None:
    """A slow beat: by its own clock the engine lost its accounts (its engine drops them),
    yet its renewals still reached Redis in time. The beat hands them back as taken, so the
    engine looks at them again; an account it keeps a lease on is never left without one."""
    now = [100.0]
    a = Ownership(runtime(server), "node-a", lease_s=60, monotonic=lambda: now[0])
    taken, _ = a.beat()
    assert sorted(taken) == sorted(LABELS)
    now[0] += 60  # a beat that took a whole lease, by this process's clock
    assert a.held == []
    taken, lost = a.beat()  # the leases were still its own in Redis: renewed
    assert (sorted(taken), lost) == (sorted(LABELS), [])
    assert sorted(a.held) == sorted(LABELS)
    assert a.beat() == ([], [])  # held all along now: nothing new to look at


def test_a_clean_stop_gives_every_account_back_at_once(server: fakeredis.FakeServer) -> None:
    a = Ownership(runtime(server), "node-a", lease_s=60)
    a.beat()
    assert sorted(a.give_back_all()) == sorted(LABELS)
    rt = runtime(server)
    assert rt.redis.mget([rt.keys.owner(lb) for lb in LABELS]) == [None] * 5
    b = Ownership(rt, "node-b", lease_s=60)
    assert sorted(b.beat()[0]) == sorted(LABELS)
