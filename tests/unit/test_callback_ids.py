"""A job's callbacks keep one task id across its reports: a second report (the pump's, after a
lost write or a report killed mid-way) cannot start a second paid job."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from celery import chord, group

from worker.adapter.app import app
from worker.adapter.signatures import fix_callback_ids, fix_request_callbacks


def stored(sig: Any, job_id: str = "job-1") -> dict[str, Any]:
    """`sig` as a job's record keeps it."""
    return fix_callback_ids(json.loads(json.dumps(dict(sig))), job_id)


def ids(sig: dict[str, Any], field: str = "link") -> list[Any]:
    return [c["options"].get("task_id") for c in sig["options"][field]]


def job() -> Any:
    return app.signature("mj.imagine", kwargs={"prompt": "a fox"}).set(task_id="job-1")


def test_every_callback_and_errback_gets_an_id_derived_from_the_job_and_its_place() -> None:
    sig = job()
    sig.link(app.signature("mj.action", kwargs={"action": "upsample1"}))
    sig.link(app.signature("mj.action", kwargs={"action": "upsample2"}))
    sig.on_error(app.signature("mj.seed"))
    first, again, other = stored(sig), stored(sig), stored(sig, "job-2")
    assert all(ids(first)) and len(set(ids(first))) == 2
    assert ids(first) == ids(again) and ids(first, "link_error") == ids(again, "link_error")
    assert not set(ids(first)) & set(ids(other))  # another job's callbacks: other ids
    assert not set(ids(first)) & set(ids(first, "link_error"))


def test_an_id_the_caller_gave_is_kept() -> None:
    sig = job()
    sig.link(app.signature("mj.action", kwargs={"action": "upsample1"}).set(task_id="mine"))
    assert ids(stored(sig)) == ["mine"]


def test_the_tasks_of_a_chain_or_group_callback_get_ids_and_a_chord_is_left_alone() -> None:
    sig = job()
    sig.link(app.signature("mj.action") | app.signature("mj.action"))
    sig.link(group(app.signature("mj.describe"), app.signature("mj.seed")))
    sig.link(chord([app.signature("mj.describe")], app.signature("mj.seed")))
    chained, grouped, chorded = stored(sig)["options"]["link"]
    inner = [t["options"]["task_id"] for c in (chained, grouped) for t in c["kwargs"]["tasks"]]
    assert len(set(inner)) == 4
    assert "task_id" not in chorded["options"]


def test_a_callback_sent_from_the_stored_signature_carries_its_fixed_id() -> None:
    sig = job()
    sig.link(app.signature("mj.action", kwargs={"action": "upsample1"}))
    callback = app.signature(stored(sig)["options"]["link"][0])
    assert callback.freeze().id == ids(stored(sig))[0]  # Celery keeps it when it sends it


def test_a_chain_with_an_id_of_its_own_keeps_it_for_its_last_step() -> None:
    sig = job()
    sig.link((app.signature("mj.action") | app.signature("mj.action")).set(task_id="mine"))
    steps = stored(sig)["options"]["link"][0]["kwargs"]["tasks"]
    # Celery gives the chain's own id to its last step only if that step has none.
    assert steps[0]["options"]["task_id"] and "task_id" not in steps[1]["options"]


def test_a_group_callback_gets_a_fixed_group_id() -> None:
    sig = job()
    sig.link(group(app.signature("mj.describe"), app.signature("mj.seed")))
    assert (
        stored(sig)["options"]["link"][0]["options"]["task_id"]
        == (stored(sig)["options"]["link"][0]["options"]["task_id"])
    )
    assert stored(sig)["options"]["link"][0]["options"]["task_id"]


def test_a_run_of_the_callers_message_sends_its_callbacks_under_the_same_ids() -> None:
    # A run that ends the job at once (a pinned account out of rotation) sends the callbacks of
    # the caller's message; a later report sends the stored signature's: the same ids.
    sig = job()
    sig.link(app.signature("mj.action", kwargs={"action": "upsample1"}))
    sig.on_error(app.signature("mj.seed"))
    message = json.loads(json.dumps(dict(sig)))["options"]
    request = SimpleNamespace(callbacks=message["link"], errbacks=message["link_error"])
    fix_request_callbacks(request, "job-1")
    assert [c["options"]["task_id"] for c in request.callbacks] == ids(stored(sig))
    assert [c["options"]["task_id"] for c in request.errbacks] == ids(stored(sig), "link_error")
    assert "task_id" not in message["link"][0]["options"]  # the message's own lists unchanged
