"""`RecordStore`, the compare-and-set core of job records, on fakeredis (Lua via lupa)."""

from __future__ import annotations

from typing import Any

import fakeredis
import pytest

from worker.capacity.guard import SlotGuard
from worker.jobs.record import TERMINAL, JobRecord, RecordState
from worker.jobs.records import CLAIMED_BY_ANOTHER, ClaimNote, RecordStore

NOW = 1_700_000_000.0


@pytest.fixture
def r() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(decode_responses=True)


@pytest.fixture
def store(r: fakeredis.FakeRedis) -> RecordStore:
    return RecordStore(r, clock=lambda: NOW)


def state_of(store: RecordStore, job_id: str) -> str:
    rec = store.load(job_id)
    assert rec is not None, f"no record for {job_id}"
    return rec.state


# -- create -----------------------------------------------------------------------------------


def test_a_second_create_returns_the_stored_record_unchanged(store: RecordStore) -> None:
    first = store.create("j1", kind="imagine", account="acct-a", params={"prompt": "a cat"})
    assert store.move("j1", RecordState.NEW, RecordState.WAITING, urgency=1)
    again = store.create("j1", kind="blend", account="acct-b", params={"prompt": "a dog"})
    assert (again.state, again.kind, again.account) == (RecordState.WAITING, "imagine", "acct-a")
    assert again.params == {"prompt": "a cat"} and again.urgency == 1
    assert again.created_at == first.created_at == NOW
    assert store.load("j1") == again


def test_a_new_record_is_new_expires_and_is_due_at_once(
    store: RecordStore, r: fakeredis.FakeRedis
) -> None:
    rec = store.create("j1", kind="imagine")
    assert rec.state == RecordState.NEW
    assert 0 < r.ttl(store.key("j1")) <= store.ttl_s
    assert store.due(before=NOW) == ["j1"]


# -- cas ----------------------------------------------------------------------------------------

# The record every row starts from: NEW, on acct-a, poll_seq 3, no TTAPI job id yet.
CAS_TABLE: list[tuple[str, dict[str, Any], bool]] = [
    ("every field matches", {"state": RecordState.NEW, "account": "acct-a", "poll_seq": 3}, True),
    ("one field of several differs", {"state": RecordState.NEW, "account": "acct-b"}, False),
    ("the value is one of a list", {"state": [RecordState.WAITING, RecordState.NEW]}, True),
    ("the value is in no list", {"state": [RecordState.WAITING, RecordState.SUBMITTED]}, False),
    ("a tuple is a list too", {"state": (RecordState.SUBMITTING, RecordState.NEW)}, True),
    ("a missing field counts as ''", {"ttapi_job_id": ""}, True),
    ("a missing field is not a value", {"ttapi_job_id": "tt-1"}, False),
    ("a missing field is not 0 either", {"unknown_fetches": 0}, False),
    ("'' may be one of a list", {"ttapi_job_id": ["tt-1", ""]}, True),
    ("nothing expected", {}, True),
]


@pytest.mark.parametrize(
    ("expect", "applied"), [row[1:] for row in CAS_TABLE], ids=[row[0] for row in CAS_TABLE]
)
def test_cas_applies_changes_only_when_every_expected_field_matches(
    store: RecordStore, expect: dict[str, Any], applied: bool
) -> None:
    store.create("j1", account="acct-a", poll_seq=3)
    assert store.cas("j1", expect, error="changed", poll_seq=4) is applied
    rec = store.load("j1")
    assert rec is not None
    assert (rec.error, rec.poll_seq) == (("changed", 4) if applied else ("", 3))


def test_cas_that_fails_changes_no_field_at_all(store: RecordStore) -> None:
    store.create("j1", account="acct-a")
    before = store.load("j1")
    assert not store.cas(
        "j1", {"state": RecordState.WAITING}, state=RecordState.SUBMITTED, ttapi_job_id="tt-1"
    )
    assert store.load("j1") == before


def test_move_checks_the_state_and_every_field_in_expect(store: RecordStore) -> None:
    store.create("j1")
    assert store.move("j1", RecordState.NEW, RecordState.SUBMITTED, ttapi_job_id="tt-2")
    # A stale poll about an earlier attempt (tt-1) must not end the later one (tt-2).
    assert not store.move(
        "j1", RecordState.SUBMITTED, RecordState.SUCCESS, expect={"ttapi_job_id": "tt-1"}
    )
    assert state_of(store, "j1") == RecordState.SUBMITTED
    assert not store.move(
        "j1",
        (RecordState.WAITING, RecordState.AMBIGUOUS),
        RecordState.SUCCESS,
        expect={"ttapi_job_id": "tt-2"},
    )
    assert store.move(
        "j1",
        (RecordState.WAITING, RecordState.SUBMITTED),
        RecordState.SUCCESS,
        expect={"ttapi_job_id": "tt-2"},
    )
    assert state_of(store, "j1") == RecordState.SUCCESS


def test_move_from_one_of_several_states(store: RecordStore) -> None:
    store.create("j1")
    assert store.move("j1", RecordState.NEW, RecordState.WAITING)
    assert not store.move("j1", (RecordState.NEW, RecordState.SUBMITTING), RecordState.SUBMITTED)
    assert store.move("j1", (RecordState.NEW, RecordState.WAITING), RecordState.SUBMITTING)
    assert state_of(store, "j1") == RecordState.SUBMITTING


# -- a record that is gone stays gone --------------------------------------------------------


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda s: s.cas("gone", {}, state=RecordState.WAITING), id="cas"),
        pytest.param(
            lambda s: s.cas("gone", {"state": ""}, state=RecordState.WAITING), id="cas-expecting-''"
        ),
        pytest.param(lambda s: s.move("gone", RecordState.NEW, RecordState.WAITING), id="move"),
        pytest.param(lambda s: s.update("gone", progress=40), id="update"),
    ],
)
def test_a_record_that_does_not_exist_is_never_recreated(
    store: RecordStore, r: fakeredis.FakeRedis, write: Any
) -> None:
    assert write(store) is False
    assert store.load("gone") is None
    assert r.exists(store.key("gone")) == 0
    assert store.due(before=NOW + 1e9) == []


def test_an_expired_record_is_not_brought_back_by_a_late_update(
    store: RecordStore, r: fakeredis.FakeRedis
) -> None:
    store.create("j1")
    r.delete(store.key("j1"))  # as its TTL would
    assert store.update("j1", progress=99) is False
    assert store.load("j1") is None


def test_an_update_with_nothing_to_change_writes_nothing(store: RecordStore) -> None:
    store.create("j1")
    assert store.update("j1") is False
    assert store.update("j1", progress=12) is True
    rec = store.load("j1")
    assert rec is not None and rec.progress == 12


# -- the active index ---------------------------------------------------------------------------


@pytest.mark.parametrize("ending", TERMINAL)
def test_an_ending_state_leaves_the_active_index(store: RecordStore, ending: str) -> None:
    store.create("j1")
    store.create("j2")
    assert store.move("j1", RecordState.NEW, ending)
    assert store.due(before=NOW) == ["j2"]
    store.look_again(["j1", "j2"], at=NOW - 10)  # never puts an ended record back
    assert store.due(before=NOW) == ["j2"]


@pytest.mark.parametrize(
    "state",
    [RecordState.WAITING, RecordState.SUBMITTING, RecordState.SUBMITTED, RecordState.AMBIGUOUS],
)
def test_a_state_on_the_way_stays_in_the_active_index(store: RecordStore, state: str) -> None:
    store.create("j1")
    assert store.move("j1", RecordState.NEW, state)
    assert store.update("j1", progress=50)
    assert store.due(before=NOW) == ["j1"]


def test_ending_through_update_also_leaves_the_index(store: RecordStore) -> None:
    store.create("j1")
    assert store.update("j1", state=RecordState.FAILED, error="[Banned prompt detected]")
    assert store.due(before=NOW) == []


def test_due_lists_records_whose_next_look_has_come_and_look_again_moves_it(
    store: RecordStore,
) -> None:
    for job in ("j1", "j2", "j3"):
        store.create(job)
    store.look_again(["j2"], at=NOW + 30)
    store.look_again(["j3"], at=NOW + 60)
    assert sorted(store.due(before=NOW)) == ["j1"]
    assert sorted(store.due(before=NOW + 30)) == ["j1", "j2"]
    assert sorted(store.due(before=NOW + 60)) == ["j1", "j2", "j3"]
    assert len(store.due(before=NOW + 60, limit=2)) == 2


def test_forget_drops_a_record_from_the_index_but_keeps_the_record(store: RecordStore) -> None:
    store.create("j1")
    store.forget("j1")
    assert store.due(before=NOW + 1e9) == []
    assert state_of(store, "j1") == RecordState.NEW
    store.look_again(["j1"], at=NOW)  # only records still in the index are rescheduled
    assert store.due(before=NOW + 1e9) == []


# -- field encoding -----------------------------------------------------------------------------

ROUND_TRIPS: list[tuple[str, Any]] = [
    ("poll_seq", 7),
    ("progress", 0),
    ("ambiguous_resubmits", 1),
    ("deadline", 1_700_000_123.456789),
    ("sent_at", 0.1 + 0.2),
    ("params", {"prompt": "un chat épique 🐈", "mode": "fast", "n": [1, 2.5, None, True]}),
    ("result", {"images": ["https://cdn/x/0.png"], "seed": "123"}),
    ("sig", {}),
    ("parent", {"job_id": "p-1", "components": ["upsample1"]}),
    ("pinned", True),
    ("pinned", False),
    ("ttapi_job_id", "tt-0f3a"),
    ("error", "[Invalid parameter] Invalid value for argument: `--v`:`8`"),
]


@pytest.mark.parametrize("decode", [True, False], ids=["str-client", "bytes-client"])
@pytest.mark.parametrize(("name", "value"), ROUND_TRIPS)
def test_fields_round_trip_through_the_hash(decode: bool, name: str, value: Any) -> None:
    store = RecordStore(fakeredis.FakeRedis(decode_responses=decode), clock=lambda: NOW)
    created = store.create("c1", **{name: value})
    assert getattr(created, name) == value
    assert getattr(store.load("c1"), name) == value
    store.create("u1")
    assert store.update("u1", **{name: value})
    assert getattr(store.load("u1"), name) == value


def test_none_is_stored_as_empty_and_unknown_fields_land_in_extra(store: RecordStore) -> None:
    store.create("j1", ttapi_job_id=None, deadline=None, note="kept as text")
    rec = store.load("j1")
    assert rec is not None
    assert (rec.ttapi_job_id, rec.deadline) == ("", 0.0)
    assert rec.extra == {"note": "kept as text"}


def test_moved_returns_the_record_as_it_now_is_or_none_when_it_lost(store: RecordStore) -> None:
    rec = store.create("m", kind="imagine", params={"prompt": "x"})
    now = store.moved(rec, RecordState.NEW, RecordState.WAITING, waiting_since=12.5)
    assert now is not None
    assert (now.state, now.waiting_since, now.kind) == (RecordState.WAITING, 12.5, "imagine")
    assert now == store.load("m")
    assert (
        store.moved(rec, RecordState.NEW, RecordState.WAITING) is None
    )  # `rec` was read before the move


def test_the_listings_read_only_fields_the_record_codec_knows() -> None:
    # `mjw jobs` and the page decode through JobRecord: a renamed field fails here, not blank.
    from dataclasses import fields

    from worker.ops.jobs import FIELDS

    known = {f.name for f in fields(JobRecord)}
    assert set(FIELDS) <= known


def test_a_claimed_move_goes_from_a_named_state_and_never_to_an_ended_one(
    store: RecordStore,
) -> None:
    note = ClaimNote("mj:claim:t1", 60, "mj:{a}:skew")
    with pytest.raises(ValueError):
        store.move_claimed("j1", {"state": "SUBMITTING"}, note, read_hooked=False, state="SUCCESS")
    with pytest.raises(ValueError):
        store.move_claimed("j1", {"sent_at": 1.0}, note, read_hooked=False, state="SUBMITTED")


@pytest.mark.parametrize("probe", [True, False], ids=["the-probe", "not-the-probe"])
def test_a_claimed_move_tells_the_guard_ttapi_accepted_it_in_the_same_call(
    r: fakeredis.FakeRedis, store: RecordStore, probe: bool
) -> None:
    """The submit's answer: the record's move, the TTAPI job's claim and the guard's
    `accepted` are one script call (`SlotGuard.accepted` is not called after it)."""
    guard = SlotGuard(r, default_cap=10)
    occ, refusals = keys = guard.accepted_keys("acct")
    r.hset(occ, mapping={"cap": 3, "probe": "j1" if probe else "other"})
    r.set(refusals, 2)
    store.create("j1", state=RecordState.SUBMITTING, sent_at=1.0)
    note = ClaimNote("mj:claim:t1", 60, "mj:{acct}:skew")
    moved, hooked, was_probe = store.move_claimed(
        "j1", {"state": "SUBMITTING"}, note, read_hooked=False, accepted=keys, state="SUBMITTED"
    )
    assert (moved, hooked, was_probe) == (1, "", probe)
    assert r.get(refusals) is None  # the 429 streak ended
    assert r.hget(occ, "cap") == ("4" if probe else "3")  # a probe that got through: one more
    # A move that does not happen tells the guard nothing.
    r.set(refusals, 1)
    assert store.move_claimed(
        "j1", {"state": "SUBMITTING"}, note, read_hooked=False, accepted=keys, state="SUBMITTED"
    ) == (0, "", False)
    assert r.get(refusals) == "1"


def test_a_claimed_move_onto_another_record_s_ttapi_job_moves_nothing(
    r: fakeredis.FakeRedis, store: RecordStore
) -> None:
    guard = SlotGuard(r, default_cap=10)
    r.set(guard.accepted_keys("acct")[1], 2)
    store.create("j1", state=RecordState.SUBMITTING, sent_at=1.0)
    note = ClaimNote("mj:claim:t1", 60, "mj:{acct}:skew")
    r.set(note.key, "the-look-alike")
    answer = store.move_claimed(
        "j1",
        {"state": "SUBMITTING"},
        note,
        read_hooked=False,
        accepted=guard.accepted_keys("acct"),
        state="SUBMITTED",
    )
    assert answer == (CLAIMED_BY_ANOTHER, "", False)
    assert state_of(store, "j1") == RecordState.SUBMITTING
    assert r.get(guard.accepted_keys("acct")[1]) == "2"
