"""The job result of every kind keeps its keys and their types: a golden result per kind.

Callers read results by key (`result["image_url"]`), stored in their own databases: a key that
disappears or changes type breaks them silently. Each kind runs once on the in-process engine
against the simulator; its result's keys and JSON types must equal tests/golden/<kind>.json.

A key added on purpose (the contract only grows): regenerate the files and review the diff:

    MJ_GOLDEN_WRITE=1 .venv/bin/python -m pytest -q tests/unit/test_golden_results.py
    git diff tests/golden/
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine import KEY_A, build_engine
from tests.support.upgrade import RESULT_KEYS_BEFORE
from worker.devtools.simulator import SimConfig, Simulator
from worker.devtools.simulator.images import png_bytes
from worker.ttapi import kinds

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
PNG = "data:image/png;base64," + base64.b64encode(png_bytes("a golden cat")).decode()
FRAME = "https://cdn.example.com/frame.png"
KINDS = (
    "imagine",
    "action",
    "seed",
    "blend",
    "describe",
    "inpaint",
    "video",
    "video_extend",
    "edit",
)
HEADER = [
    "The job result of mj.{kind}: its keys and their JSON types, as callers read them.",
    "tests/unit/test_golden_results.py runs the kind against the simulator and compares.",
    "A key added on purpose: MJ_GOLDEN_WRITE=1 .venv/bin/python -m pytest -q "
    "tests/unit/test_golden_results.py, then review git diff tests/golden/.",
    "A key removed or retyped breaks callers: never regenerate for that.",
    "With MJ_STORAGE_URL set a result also has `stored` (and `storage_error` on a give-up).",
]


def json_type(value: Any) -> str:
    """The JSON type name of a value as a caller decodes it."""
    if value is None:
        return "null"
    for kind, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string")):
        if isinstance(value, kind):
            return name
    return "array" if isinstance(value, list) else "object"


def shape(result: dict[str, Any]) -> dict[str, str]:
    """Each key of `result` with its value's JSON type, keys sorted."""
    return {key: json_type(result[key]) for key in sorted(result)}


@pytest.fixture(scope="module")
def results() -> Iterator[dict[str, dict[str, Any]]]:
    """One finished job of every kind (follow-ups on the results before them)."""
    sim = Simulator(SimConfig(keys=[KEY_A], capacity=10, fast_s=0.2)).start()
    try:
        eng = build_engine(sim, capacity=10, fast_s=0.2)

        def run(kind: str, params: dict[str, Any], **opts: Any) -> dict[str, Any]:
            job = eng.submit(kind, params, **opts)
            assert eng.run_until(eng.done(job), 15), kind
            return eng.result(job)

        grid = run("imagine", {"prompt": "a golden fox", "mode": "fast"})
        one = run("action", {"action": "upsample1"}, parent=grid)
        video = run("video", {"index": 0}, parent=one)
        yield {
            "imagine": grid,
            "action": one,
            "seed": run("seed", {}, parent=grid),
            "blend": run("blend", {"images": [PNG, PNG]}),
            "describe": run("describe", {"image": PNG}),
            "inpaint": run("inpaint", {"mask": PNG, "prompt": "a hat"}, parent=one),
            "video": video,
            "video_extend": run("video_extend", {"index": 0}, parent=video),
            "edit": run("edit", {"image": FRAME, "prompt": "in glass"}),
        }
    finally:
        sim.stop()


def test_every_job_kind_has_a_golden_result_with_the_release_befores_keys() -> None:
    assert set(KINDS) == set(kinds.KINDS)
    assert {p.stem for p in GOLDEN.glob("*.json")} == set(KINDS)
    for kind in KINDS:
        golden = json.loads((GOLDEN / f"{kind}.json").read_text())["result"]
        assert set(golden) >= RESULT_KEYS_BEFORE, kind


@pytest.mark.parametrize("kind", KINDS)
def test_a_kinds_result_keeps_the_keys_and_types_of_its_golden_result(
    kind: str, results: dict[str, dict[str, Any]], _write: bool
) -> None:
    path = GOLDEN / f"{kind}.json"
    found = shape(results[kind])
    if _write:
        doc = {"//": [line.format(kind=kind) for line in HEADER], "result": found}
        path.write_text(json.dumps(doc, indent=2) + "\n")
    golden = json.loads(path.read_text())["result"]
    gone = sorted(set(golden) - set(found))
    added = sorted(set(found) - set(golden))
    retyped = {k: (golden[k], found[k]) for k in set(golden) & set(found) if golden[k] != found[k]}
    assert not gone and not retyped, f"{kind}: keys gone {gone}, retyped {retyped}"
    assert not added, f"{kind}: new keys {added}: if on purpose, regenerate (see the header)"


@pytest.fixture
def _write() -> bool:
    return os.environ.get("MJ_GOLDEN_WRITE") == "1"
