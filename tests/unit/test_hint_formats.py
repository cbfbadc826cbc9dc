"""Hints in flight: their text is written in one place (`worker.jobs.hints`), the guard's Lua
writes the same text, and hints written by the release before read the same in this one.

The release before is 99457b4 (the last commit before issue 24). Its hints were written by its
`worker/jobs/hints.py` and its `worker/lua/capacity/guard/enqueue.lua`; the texts below are
theirs, byte for byte: a node of this release pops what a node of that one pushed.
"""

from __future__ import annotations

import re
from pathlib import Path

import fakeredis
import pytest

from worker.capacity.guard import SlotGuard
from worker.jobs import hints
from worker.jobs.hints import Hint, HintKind
from worker.keys import Keys

ROOT = Path(__file__).resolve().parents[2]
LUA = ROOT / "worker" / "lua"

# Written by the release before (99457b4), as its writers spelled them.
BEFORE = [
    ("fill", Hint(HintKind.FILL)),  # enqueue.lua, and fill_hint() without a due time
    ("fill|1765080000123", Hint(HintKind.FILL, due_ms=1765080000123)),  # after a cooldown
    ("submit|0b6c-4d", Hint(HintKind.SUBMIT, job_id="0b6c-4d")),  # enqueue.lua, submit_hints
    ("submit|a|b", Hint(HintKind.SUBMIT, job_id="a|b")),  # a task id may hold a '|'
    ("poll|0b6c-4d|3|1765080000123", Hint(HintKind.POLL, "0b6c-4d", 3, 1765080000123)),
    ("poll|a|b|7|99", Hint(HintKind.POLL, "a|b", 7, 99)),
]


@pytest.mark.parametrize(("text", "hint"), BEFORE)
def test_a_hint_written_by_the_release_before_reads_the_same(text: str, hint: Hint) -> None:
    assert hints.parse(text) == hint
    assert hints.parse(text.encode()) == hint


def test_this_release_writes_each_hint_as_the_release_before_did() -> None:
    assert hints.fill_hint() == "fill"
    assert hints.fill_hint(1765080000123) == "fill|1765080000123"
    assert hints.submit_hints(["0b6c-4d", "a|b"]) == ["submit|0b6c-4d", "submit|a|b"]
    assert hints.poll_hint("0b6c-4d", 3, 1765080000123) == "poll|0b6c-4d|3|1765080000123"
    assert hints.store_hint("0b6c-4d") == "store|0b6c-4d"  # new in this release's line


def test_every_hint_kind_has_a_writer_whose_text_reads_back() -> None:
    assert [k.value for k in HintKind] == ["fill", "submit", "poll", "store"]
    written = {
        HintKind.FILL: [hints.fill_hint(), hints.fill_hint(42)],
        HintKind.SUBMIT: hints.submit_hints(["j|1"]),
        HintKind.POLL: [hints.poll_hint("j|1", 2, 42)],
        HintKind.STORE: [hints.store_hint("j|1")],
    }
    assert set(written) == set(HintKind)
    for kind, texts in written.items():
        for text in texts:
            hint = hints.parse(text)
            assert hint is not None and hint.kind is kind, text


def test_the_guards_lua_pushes_hints_in_the_format_of_the_hints_module() -> None:
    # Run the script: a job queued where a slot is free hints a fill; the same job queued
    # again once it holds a slot hints its submit. What it pushed is what the module writes.
    client = fakeredis.FakeRedis(decode_responses=True)
    keys = Keys("mj")
    guard = SlotGuard(client, default_cap=2, keys=keys)
    guard.enqueue("acct", "job|1")
    assert guard.fill("acct") == ["job|1"]
    guard.enqueue("acct", "job|1")
    pushed = client.lrange(keys.wake("acct"), 0, -1)
    assert pushed == [hints.fill_hint(), *hints.submit_hints(["job|1"])]
    assert [hints.parse(p) for p in pushed] == [
        Hint(HintKind.FILL),
        Hint(HintKind.SUBMIT, job_id="job|1"),
    ]


def test_every_hint_literal_in_the_lua_scripts_is_a_hint_kind_of_the_module() -> None:
    # Read the text: any string a script pushes is a kind's word alone or followed by '|'.
    pushes = []
    for path in sorted(LUA.rglob("*.lua")):
        for line in path.read_text().splitlines():
            pushes += re.findall(r"'[RL]PUSH',\s*KEYS\[\d+\],\s*'([^']*)'", line)
    assert pushes, "the guard's scripts hint the engine: their literals should be found"
    job_writers = {
        HintKind.SUBMIT: lambda job: hints.submit_hints([job])[0],
        HintKind.STORE: hints.store_hint,
    }
    for literal in pushes:
        word, bar, rest = literal.partition("|")
        assert word in set(HintKind) and not rest, literal
        if not bar:  # a whole hint: the module writes it alone so
            assert literal == hints.fill_hint(), literal
        else:  # a prefix the script follows with a job id
            assert job_writers[HintKind(word)]("JOB") == literal + "JOB", literal
