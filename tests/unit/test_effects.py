"""Job steps return effects; the engine and the Celery adapter carry them out (issue 24, item 1).

The imports already run downwards (test_layout.py); these tests hold the calls to it too: a
job's life in the in-process engine makes no call from a lower layer's code into a higher
one's, every effect kind is carried out through a table in each interpreter, and the Runtime
a step receives is built once and never changed.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from types import FrameType, SimpleNamespace
from typing import Any

import fakeredis
import pytest

from config.settings import Settings
from tests.support.engine import FAST, KEY_A, LABEL_A, account, build_engine
from tests.support.simulators import SimFactory
from tests.unit.test_layout import LAYERS, unit_of
from worker.adapter.dispatch import CeleryDispatcher
from worker.engine.dispatch import EngineDispatch
from worker.jobs import hints
from worker.jobs.effects import (
    ENGINE_KINDS,
    OUTCOME_KINDS,
    Done,
    EffectKind,
    Failed,
    Fill,
    Park,
    PollAt,
    Report,
    Revoked,
    Show,
    Store,
    Submit,
)
from worker.jobs.runtime import Runtime
from worker.jobs.states import TaskState
from worker.ttapi import errors

ROOT = Path(__file__).resolve().parents[2]
EVERY_EFFECT = [
    Submit("acct", "j", 1.5),
    PollAt("j", 3, 0.5, "acct"),
    Fill("acct", 2.0),
    Store("j", "acct"),
    Report("j", 1.0, {"task": "mj.imagine"}),
    Show("j", TaskState.WAITING, {"position": 1}),
    Park(),
    Done({"status": "SUCCESS"}),
    Failed(errors.JobFailed("no")),
    Revoked("revoked"),
]


def layer_of(path: str) -> float | None:
    """The layer of a product file (`tasks/` is Celery's, above the adapter); None elsewhere."""
    rel = Path(path).resolve()
    try:
        parts = rel.relative_to(ROOT).parts
    except ValueError:
        return None
    if parts[0] == "tasks":
        return LAYERS["adapter"] + 0.5
    if parts[0] != "worker" or len(parts) < 2:
        return None
    module = ".".join(("worker", *parts[1:])).removesuffix(".py")
    return LAYERS[unit_of(module)]


class UpwardCalls:
    """A profiler that notes every call from product code into product code of a higher layer
    (the nearest product frame up the stack is the caller: a call through the standard
    library, a callback handed to an executor, counts)."""

    def __init__(self) -> None:
        self.found: set[str] = set()
        self.calls = 0

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event != "call":
            return
        callee = layer_of(frame.f_code.co_filename)
        if callee is None:
            return
        self.calls += 1
        caller = frame.f_back
        while caller is not None and layer_of(caller.f_code.co_filename) is None:
            caller = caller.f_back
        if caller is None:
            return
        below = layer_of(caller.f_code.co_filename)
        if below is not None and below < callee:
            self.found.add(
                f"{Path(caller.f_code.co_filename).relative_to(ROOT)}:{caller.f_code.co_name} → "
                f"{Path(frame.f_code.co_filename).relative_to(ROOT)}:{frame.f_code.co_name}"
            )


def test_a_jobs_life_in_the_engine_calls_nothing_up_the_layers(make_sim: SimFactory) -> None:
    sim = make_sim(keys=[KEY_A], capacity=2, fast_s=FAST)
    eng = build_engine(sim, capacity=2)
    watch = UpwardCalls()
    sys.setprofile(watch)
    try:
        # A backlog (hand-offs), a transient failure (a resubmit), a banned prompt (a failure
        # reported), then a pump round.
        jobs = [eng.imagine(f"a watched tower {i}") for i in range(3)]
        jobs += [eng.imagine("a flaky tower"), eng.imagine("a banned tower")]
        assert eng.run_until(eng.all_done, 15)
        eng.pump()
    finally:
        sys.setprofile(None)
    assert watch.calls > 1000  # the profiler saw the product code run
    assert not watch.found, "\n".join(sorted(watch.found))
    assert account(sim)["submits"] == 6
    assert eng.holders(LABEL_A) == 0


def test_every_effect_kind_is_carried_out_through_a_table_in_each_interpreter() -> None:
    assert [k.value for k in EffectKind] == [
        "submit",
        "poll",
        "fill",
        "store",
        "report",
        "show",
        "park",
        "done",
        "failed",
        "revoked",
    ]
    assert sorted(e.kind for e in EVERY_EFFECT) == sorted(EffectKind)  # one class per kind
    assert set(CeleryDispatcher.CARRIES) == set(EffectKind)
    assert set(EngineDispatch.CARRIES) == set(ENGINE_KINDS)
    assert not ENGINE_KINDS & OUTCOME_KINDS
    for effect in EVERY_EFFECT:  # data: frozen, compared by value
        with pytest.raises(dataclasses.FrozenInstanceError):
            effect.kind = EffectKind.PARK  # type: ignore[misc]
        assert effect == dataclasses.replace(effect)


def test_the_runtime_is_built_once_and_never_changed() -> None:
    rt = Runtime.build(Settings(ttapi_api_key=KEY_A), fakeredis.FakeRedis(decode_responses=True))
    with pytest.raises(dataclasses.FrozenInstanceError):
        rt.clock = lambda: 0.0  # type: ignore[misc]
    assigned = []
    for path in sorted((ROOT / "worker").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else []
            for target in targets:
                value = target.value if isinstance(target, ast.Attribute) else None
                if (isinstance(value, ast.Name) and value.id == "rt") or (
                    isinstance(value, ast.Attribute) and value.attr == "rt"
                ):
                    assigned.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not assigned, assigned


def test_a_process_without_an_engine_asks_the_engines_with_hints_in_one_round_trip() -> None:
    rt = Runtime.build(Settings(ttapi_api_key=KEY_A), fakeredis.FakeRedis(decode_responses=True))
    app: Any = SimpleNamespace()  # a process of the app: hints need no Celery
    sent: list[str] = []
    real = rt.redis.pipeline

    def counted(*args: Any, **kwargs: Any) -> Any:
        sent.append("pipeline")
        return real(*args, **kwargs)

    rt.redis.pipeline = counted  # type: ignore[method-assign]
    now_ms = int(rt.clock() * 1000)
    CeleryDispatcher(app, rt).carry_out(
        [Submit(LABEL_A, "j1", 5.0), PollAt("j1", 2, 0.0, LABEL_A), Fill(LABEL_A), Store("j1", "")]
    )
    pushed = [hints.parse(h) for h in rt.redis.lrange(rt.keys.wake(LABEL_A), 0, -1)]
    assert [(h.kind, h.job_id, h.seq) for h in pushed if h is not None] == [
        (hints.HintKind.SUBMIT, "j1", 0),  # its backoff is the engine's own: a hint submits now
        (hints.HintKind.POLL, "j1", 2),
        (hints.HintKind.FILL, "", 0),
    ]  # a copy of a job of no account asks nobody
    assert pushed[1] is not None and abs(pushed[1].due_ms - now_ms) < 1000
    assert sent == ["pipeline"]


def test_an_outcome_is_never_carried_out_by_a_dispatcher() -> None:
    rt = Runtime.build(Settings(ttapi_api_key=KEY_A), fakeredis.FakeRedis(decode_responses=True))
    with pytest.raises(TypeError, match="ends a task run"):
        CeleryDispatcher(SimpleNamespace(), rt).carry_out([Done({})])  # type: ignore[arg-type]


def test_one_imagines_path_in_both_processes_calls_nothing_up() -> None:
    # The task's run in a pool process, then the engine with the app's dispatcher as its shell
    # (tests/bench/hops.py, a process of its own: it configures the app from its environment).
    out = subprocess.run(
        [sys.executable, "-m", "tests.bench.hops", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["up"] == []
    assert 0 < found["hops"] < 102  # 102 on 10929bf, before steps returned effects
