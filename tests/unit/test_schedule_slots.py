"""Two beats (a rolling redeploy of beat, or two by mistake) start each scheduled run with the
same pipeline task ids, so no run is paid for twice: the ids come from the entry's name and the
time the run was due, which beat passes, and `every` entries fall due at the same instants
(whole multiples since the epoch) whenever each beat started."""

from __future__ import annotations

import math
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from celery.beat import ScheduleEntry
from celery.utils.imports import symbol_by_name

from config.settings import load_settings
from worker.adapter.app import create_app

SCHEDULES = """
[[schedule]]
name = "hourly-fox"
every = "1h"
prompt = "a red fox"

[[schedule]]
name = "five-minutes"
cron = "*/5 * * * *"
prompt = "a grey heron"
"""


def run_ids_of_two_beats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, started: tuple[float, float]
) -> list[str | None]:
    """Two beats, started at `started` (epoch s, their entries' last runs), each start the
    entry `name` now; the run ids their `mj.run_schedule` messages give the pipeline."""
    import tasks

    path = tmp_path / "schedules.toml"
    path.write_text(SCHEDULES)
    app = create_app(load_settings(mj_schedule_file=str(path)))
    conf = app.conf.beat_schedule[f"user:{name}"]
    seen: list[str | None] = []

    def fake_start(app: Any, pipeline: Any, **kwargs: Any) -> str:
        seen.append(kwargs.get("run_id"))
        return "root"

    monkeypatch.setattr(tasks.schedules, "start_pipeline", fake_start)
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(
        app.tasks[conf["task"]], "apply_async", lambda args, kwargs, **o: sent.append(kwargs)
    )
    for last_run in started:
        scheduler = symbol_by_name(app.conf.beat_scheduler)(app=app, lazy=True)
        entry = ScheduleEntry(
            name=f"user:{name}",
            task=conf["task"],
            schedule=conf["schedule"],
            kwargs=conf["kwargs"],
            options=conf["options"],
            last_run_at=datetime.fromtimestamp(last_run, UTC),
            app=app,
        )
        assert entry.is_due().is_due  # both beats hold this run due now
        scheduler.apply_entry(entry)  # what beat's tick does with a due entry
        kwargs = sent.pop()
        message_id = str(uuid.uuid4())  # each beat's message has an id of its own
        tasks.run_schedule.apply(kwargs=kwargs, task_id=message_id).get()
    return seen


def test_two_beats_start_an_every_entrys_run_with_the_same_pipeline_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hour = math.floor(time.time() / 3600) * 3600  # the run due last, on the hour
    started = (hour - 3599, hour - 1800)  # one beat started an hour ago, the other at half past
    first, second = run_ids_of_two_beats(tmp_path, monkeypatch, "hourly-fox", started)
    assert first == second


def test_two_beats_start_a_cron_entrys_run_with_the_same_pipeline_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slot = math.floor(time.time() / 300) * 300  # the run due last, on a fifth minute
    first, second = run_ids_of_two_beats(
        tmp_path, monkeypatch, "five-minutes", (slot - 200, slot - 100)
    )
    assert first == second


def test_beat_waits_for_a_run_instead_of_ticking_until_it_is_due(tmp_path: Path) -> None:
    """Celery's 10 ms drift once left beat ticking without a pause for the last 10 ms before
    each run; the scheduler now sleeps them, and the run still goes out when it is due."""
    app = create_app(load_settings())
    app.conf.beat_schedule = {"often": {"task": "mj.pump", "schedule": 0.1}}
    sent: list[float] = []
    scheduler = symbol_by_name(app.conf.beat_scheduler)(
        app=app, schedule_filename=str(tmp_path / "beat"), lazy=True
    )
    scheduler.__dict__["producer"] = None  # no broker: nothing is sent
    scheduler.apply_entry = lambda entry, producer=None: sent.append(time.monotonic())
    scheduler.setup_schedule()
    assert scheduler.adjust(0.5) == pytest.approx(0.49)
    assert scheduler.adjust(0.004) == 0.004
    assert scheduler.adjust(0) == 0
    ticks, t0 = 0, time.monotonic()
    try:
        while time.monotonic() - t0 < 1.0:  # beat's own loop (celery.beat.Service.start)
            ticks += 1
            interval = scheduler.tick()
            if interval and interval > 0.0:
                time.sleep(interval)
    finally:
        scheduler.close()
    assert 8 <= len(sent) <= 11  # every 0.1 s
    assert ticks <= 4 * len(sent) + 4  # a few per run: sleeps, not a spin of hundreds
