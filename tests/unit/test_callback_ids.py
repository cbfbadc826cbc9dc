"""A job's callbacks keep one task id across its reports: a second report (the pump's, after a
lost write or a report killed mid-way) cannot start a second paid job."""

from __future__ import annotations

import json
from typing import Any

from celery import chord, group

from worker.adapter.app import app, fix_callback_ids


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
