"""Names others see do not move: what callers, operators and stored messages rely on, spelled
out here so that a change to any of them fails a test and is a decision, not an accident.

Elsewhere: RecordState and TaskState strings (test_state_enums.py), task names, arguments and
`tasks.__all__` (test_task_names.py), hints in flight (test_hint_formats.py), the job result's
keys per kind (test_golden_results.py).
"""

from __future__ import annotations

import importlib
import inspect
from types import SimpleNamespace
from typing import Any, get_args

import pytest

from worker.adapter.app import app
from worker.adapter.schedule_entries import ScheduleEntry, parse_every
from worker.adapter.schedules import ENTRY_PREFIX
from worker.capacity.lanes import VIDEO_SUFFIX
from worker.jobs import steps
from worker.jobs.download import errors as download_errors
from worker.jobs.records import JobRecord
from worker.jobs.states import TaskState, show_submitted, show_waiting
from worker.ttapi import errors
from worker.ttapi.media_requests import BATCHES, Animate, Motion, Resolution
from worker.ttapi.requests import ACTIONS, Mode


def test_the_info_of_waiting_and_submitted_keeps_its_keys_and_types() -> None:
    rt: Any = SimpleNamespace()  # a wait with no tenant cap reads nothing of the runtime
    rec = JobRecord.from_hash(
        "j1",
        {
            "state": "SUBMITTED",
            "account": "acct-1" + VIDEO_SUFFIX,
            "ttapi_job_id": "t1",
            "progress": "7",
        },
    )
    rec.created_at = rec.submitted_at_ts = 1765080000.0
    shown = [show_waiting(rt, rec, "acct-1", 2), show_submitted(rec)]
    (waiting, w_info), (submitted, s_info) = [(s.state, s.meta) for s in shown]
    assert (waiting, submitted) == (TaskState.WAITING, TaskState.SUBMITTED)
    types = {k: type(v).__name__ for k, v in w_info.items()}
    assert types == {
        "account": "str",
        "position": "int",
        "waiting_since": "str",
        "tenant": "str",
        "priority": "str",
    }
    types = {k: type(v).__name__ for k, v in s_info.items()}
    assert types == {
        "account": "str",
        "ttapi_job_id": "str",
        "progress": "int",
        "submitted_at": "str",
        "tenant": "str",
        "priority": "str",
    }
    assert s_info["account"] == "acct-1"  # the account, never a lane of it


def test_the_then_spellings_stay() -> None:
    assert (
        *(f"upsample{i}" for i in range(1, 5)),
        *(f"variation{i}" for i in range(1, 5)),
        "high_variation",
        "low_variation",
        "upscale2",
        "upscale4",
        "upscale_creative",
        "upscale_subtle",
        "zoom_out_2",
        "zoom_out_1_5",
        "pan_left",
        "pan_right",
        "pan_up",
        "pan_down",
        "reroll",
    ) == ACTIONS, "an action may be added at the end; none renamed or removed"
    assert steps.STEP_KINDS == ("video", "video_extend")
    assert steps.SYNTAX == "video[:OPTIONS], video_extend[:OPTIONS]"
    assert (get_args(Motion), get_args(Resolution), get_args(Animate)) == (
        ("low", "high"),
        ("sd", "hd"),
        ("auto", "manual"),
    )
    assert BATCHES == (1, 2, 4) and get_args(Mode) == ("fast", "relax", "turbo")
    assert steps.parse_step("video:2,hd,high,batch=1") == steps.Step(
        "video", {"index": 2, "resolution": "hd", "motion": "high", "batch": 1}
    )
    assert steps.parse_step("video_extend:0,manual,low") == steps.Step(
        "video_extend", {"index": 0, "animate": "manual", "motion": "low"}
    )


def test_the_schedule_spellings_stay() -> None:
    assert set(ScheduleEntry.model_fields) == {
        "name",
        "prompt",
        "cron",
        "every",
        "then",
        "mode",
        "account",
        "download",
        "tenant",
        "priority",
    }, "a field may be added; none renamed or removed"
    assert ENTRY_PREFIX == "user:"
    assert [parse_every(v) for v in (90, "90", "30s", "15m", "1h", "2d", "1h30m")] == [
        90.0,
        90.0,
        30.0,
        900.0,
        3600.0,
        172800.0,
        5400.0,
    ]
    assert set(ScheduleEntry(name="n", prompt="p", every=1).run_kwargs()) == {
        "name",
        "prompt",
        "then",
        "mode",
        "account",
        "download",
    }


# Celery stores a failure's class by its name and module (`exc_type`, `exc_module`), and a
# caller's `AsyncResult.get()` rebuilds it from them: each class stays where it is.
EXCEPTIONS = {
    "worker.ttapi.errors": [
        "TTAPIError",
        "RequestError",
        "ConnectError",
        "ReadTimeout",
        "ConnectionLost",
        "APIStatusError",
        "BadRequest",
        "Unauthorized",
        "InsufficientBalance",
        "NotFound",
        "RateLimited",
        "QueueFull",
        "ServerError",
        "GatewayTimeout",
        "EnvelopeFailed",
        "ResponseError",
        "InvalidRequest",
        "JobFailed",
    ],
    "worker.jobs.download.errors": [
        "DownloadRefused",
        "ImageTooLarge",
        "AddressRefused",
        "RedirectRefused",
        "UnsupportedContent",
    ],
}


def _defined(module: Any) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == module.__name__
    }


def test_every_exception_a_task_may_raise_is_pinned_to_its_module() -> None:
    assert _defined(errors) == set(EXCEPTIONS["worker.ttapi.errors"])
    assert _defined(download_errors) == set(EXCEPTIONS["worker.jobs.download.errors"])


@pytest.mark.parametrize(
    ("module", "name"), [(m, n) for m, names in EXCEPTIONS.items() for n in names]
)
def test_an_exception_celery_stored_is_rebuilt_as_the_same_class(module: str, name: str) -> None:
    cls = getattr(importlib.import_module(module), name)
    assert cls.__module__ == module and cls.__qualname__ == name
    stored = app.backend.prepare_exception(cls("[Banned prompt detected] a test"), "json")
    assert (stored["exc_type"], stored["exc_module"]) == (name, module)
    rebuilt = app.backend.exception_to_python(stored)
    assert type(rebuilt) is cls and str(rebuilt) == "[Banned prompt detected] a test"
