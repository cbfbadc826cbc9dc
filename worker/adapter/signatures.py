"""The signature a job's record keeps, from which every report of the job is built.

Inline images are left out of it (the record keeps them), and each of its callbacks gets a
fixed task id: a job's report may run again (the pump's, after a report killed once Celery
stored its outcome, or a result written to a master that then lost), and each report sends
the job's link callbacks and errbacks again. Celery gives a callback without an id a new one
each time, so an `mj.action` would be a second paid job; with fixed ids the callback's own
record makes it one.
"""

from __future__ import annotations

import uuid
from copy import deepcopy
from typing import Any

from kombu.utils.json import dumps, loads

from worker.policy import INLINE_ARG_MAX_CHARS, INLINE_DATA_URI_MAX_CHARS

INLINE_STUB = "(inline input: kept in the job record)"
#: Namespace of a callback's fixed task id (uuid5 of its job's id and its place).
CALLBACK_IDS = uuid.UUID("5d2b9c3e-8f0a-4c61-9a57-3f1e2b7d6c40")


def task_signature(task: Any) -> dict[str, Any]:
    """The current request of `task` as a JSON-safe signature (id, chain, callbacks kept, each
    callback with a fixed task id: `fix_callback_ids`, given to the request's own callbacks
    too, so that a run that ends the job sends them under the ids every later report sends).

    Inline images (data URIs) are left out: the job record keeps them, every re-publish of
    the task would carry them through the broker again, and a run that finds the record
    never reads them from its message.
    """
    fix_request_callbacks(task.request, str(task.request.id))
    sig = dict(loads(dumps(dict(task.signature_from_request()))))
    kwargs = sig.get("kwargs")
    if isinstance(kwargs, dict):
        sig["kwargs"] = {k: _slim(v) for k, v in kwargs.items()}
    return sig


def fix_callback_ids(sig: dict[str, Any], job_id: str) -> dict[str, Any]:
    """`sig` (changed in place) with a task id on every link and errback that has none, derived
    from the job's id and the callback's place, also inside a chain or group given as one.

    A job's report may run again (the pump's, after a report killed after Celery stored it or a
    result written to a master that then lost), and each sends the callbacks again: Celery would
    give an id-less `mj.action` a new id each time, a second paid job. Every report is built
    from the signature the record keeps, so fixed ids there make the callback's record dedupe.
    """
    options = sig.get("options")
    if isinstance(options, dict):
        _fix_all(options, job_id)
    return sig


def fix_request_callbacks(request: Any, job_id: str) -> None:
    """The same fixed ids on the callbacks of a run's own message: a run of the caller's
    message that ends the job sends them from there, a later report from the stored
    signature (`signature_from_request` keeps the request's order, so the places match)."""
    callbacks = getattr(request, "callbacks", None)
    errbacks = getattr(request, "errbacks", None)
    if not callbacks and not errbacks:  # most runs: nothing to copy
        return
    fixed = _fix_all({"link": deepcopy(callbacks), "link_error": deepcopy(errbacks)}, job_id)
    request.callbacks, request.errbacks = fixed["link"] or None, fixed["link_error"] or None


def _fix_all(options: dict[str, Any], job_id: str) -> dict[str, Any]:
    """`options` (a signature's, changed in place) with every link and errback given its id."""
    for field in ("link", "link_error"):
        for i, callback in enumerate(options.get(field) or []):
            _fix_id(callback, f"{job_id}/{field}/{i}")
    return options


def _fix_id(callback: Any, place: str) -> None:
    if not isinstance(callback, dict):
        return
    kind = callback.get("subtask_type")
    options = callback.setdefault("options", {})
    if not isinstance(options, dict):
        return
    if kind in ("chain", "group"):
        tasks = (callback.get("kwargs") or {}).get("tasks") or []
        if kind == "group" and not options.get("task_id"):  # its group id (a chord's too)
            options["task_id"] = str(uuid.uuid5(CALLBACK_IDS, f"{place}/group"))
        own_last = kind == "chain" and options.get("task_id")  # Celery gives it the last step
        for j, task in enumerate(tasks[:-1] if own_last else tasks):
            _fix_id(task, f"{place}/{j}")
    elif kind is None and not options.get("task_id"):  # a plain signature (a chord, or a
        options["task_id"] = str(uuid.uuid5(CALLBACK_IDS, place))  # kind not known: left)


def _slim(value: Any) -> Any:
    if isinstance(value, str) and (
        len(value) > INLINE_ARG_MAX_CHARS
        or (value.startswith("data:") and len(value) > INLINE_DATA_URI_MAX_CHARS)
    ):
        return INLINE_STUB
    if isinstance(value, list) and any(_slim(v) is INLINE_STUB for v in value):
        return [_slim(v) for v in value]
    return value


__all__ = ["INLINE_STUB", "fix_callback_ids", "fix_request_callbacks", "task_signature"]
