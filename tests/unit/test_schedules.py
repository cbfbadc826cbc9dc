"""User beat schedules: the file format, its errors, and the beat entries it becomes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from celery import Celery, chain
from celery.canvas import Signature
from celery.schedules import crontab

from config.settings import ConfigError, load_settings
from worker.adapter.pipelines import build_pipeline
from worker.adapter.schedules import (
    ScheduleError,
    load_user_schedules,
    parse_every,
    start_pipeline,
    step_ids,
)

GOOD_TOML = """
[[schedule]]
name = "morning-lighthouse"
cron = "0 9 * * *"
prompt = "a lighthouse at dawn --ar 16:9"
then = ["upsample2"]
mode = "relax"
account = "acct-12345678"
download = "/data/images"

[[schedule]]
name = "often"
every = "90s"
prompt = "a red fox"
"""

ENTRY = 'name = "{name}"\nprompt = "a cat"\n'


def write(tmp_path: Path, text: str, name: str = "schedules.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def toml_entries(*bodies: str) -> str:
    return "".join(f"[[schedule]]\n{body}\n" for body in bodies)


def test_a_good_toml_file_becomes_crontab_and_interval_beat_entries(tmp_path: Path) -> None:
    beat = load_user_schedules(write(tmp_path, GOOD_TOML))
    assert set(beat) == {"user:morning-lighthouse", "user:often"}
    morning = beat["user:morning-lighthouse"]
    assert morning["task"] == "mj.run_schedule"
    assert morning["schedule"] == crontab(minute="0", hour="9")
    assert morning["kwargs"] == {
        "name": "morning-lighthouse",
        "prompt": "a lighthouse at dawn --ar 16:9",
        "then": ["upsample2"],
        "mode": "relax",
        "account": "acct-12345678",
        "download": "/data/images",
    }
    often = beat["user:often"]
    assert often["schedule"] == timedelta(seconds=90)
    assert often["kwargs"] == {
        "name": "often",
        "prompt": "a red fox",
        "then": [],
        "mode": "fast",
        "account": None,
        "download": None,
    }
    json.dumps([e["kwargs"] for e in beat.values()])  # beat sends them as JSON


def test_a_json_file_gives_the_same_entries_as_its_toml_twin(tmp_path: Path) -> None:
    doc = {
        "schedule": [
            {
                "name": "morning-lighthouse",
                "cron": "0 9 * * *",
                "prompt": "a lighthouse at dawn --ar 16:9",
                "then": ["upsample2"],
                "mode": "relax",
                "account": "acct-12345678",
                "download": "/data/images",
            },
            {"name": "often", "every": 90, "prompt": "a red fox"},
        ]
    }
    from_json = load_user_schedules(write(tmp_path, json.dumps(doc), "s.json"))
    assert from_json == load_user_schedules(write(tmp_path, GOOD_TOML))
    bare_list = load_user_schedules(write(tmp_path, json.dumps(doc["schedule"]), "l.json"))
    assert bare_list == from_json


def test_a_cron_entry_fires_on_its_five_fields_in_order(tmp_path: Path) -> None:
    body = ENTRY.format(name="w") + 'cron = "*/15 8-17 1,15 6 mon-fri"'
    path = write(tmp_path, toml_entries(body))
    sched = load_user_schedules(path)["user:w"]["schedule"]
    assert sched == crontab(
        minute="*/15", hour="8-17", day_of_month="1,15", month_of_year="6", day_of_week="mon-fri"
    )


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (90, 90.0),
        (0.5, 0.5),
        ("90", 90.0),
        ("30s", 30.0),
        ("15m", 900.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("2d", 172800.0),
        (" 1H ", 3600.0),
    ],
)
def test_every_accepts_seconds_or_a_duration_with_units(value: Any, seconds: float) -> None:
    assert parse_every(value) == seconds


def test_an_empty_file_has_no_schedules(tmp_path: Path) -> None:
    assert load_user_schedules(write(tmp_path, "")) == {}


BAD_FILES: list[tuple[str, str, str]] = [
    # (id, TOML text, what the error must contain after "MJ_SCHEDULE_FILE <path>: ")
    (
        "cron-four-fields",
        toml_entries(ENTRY.format(name="a") + 'cron = "0 9 * *"'),
        "schedule[0] (a): cron: expected 5 fields",
    ),
    (
        "cron-bad-minute",
        toml_entries(
            ENTRY.format(name="a") + "every = 5",
            ENTRY.format(name="nightly") + 'cron = "61 2 * * *"',
        ),
        "schedule[1] (nightly): cron: minute '61'",
    ),
    (
        "cron-bad-month",
        toml_entries(ENTRY.format(name="m") + 'cron = "0 0 1 13 *"'),
        "schedule[0] (m): cron: month_of_year '13'",
    ),
    (
        "cron-never",
        toml_entries(ENTRY.format(name="feb") + 'cron = "0 0 31 2 *"'),
        "schedule[0] (feb): cron: ",
    ),
    (
        "both-timings",
        toml_entries(ENTRY.format(name="b") + 'cron = "* * * * *"\nevery = 5'),
        "schedule[0] (b): entry: give exactly one of 'cron' or 'every'",
    ),
    (
        "no-timing",
        toml_entries(ENTRY.format(name="c")),
        "schedule[0] (c): entry: give exactly one of 'cron' or 'every'",
    ),
    (
        "every-zero",
        toml_entries(ENTRY.format(name="z") + "every = 0"),
        "schedule[0] (z): every: must be more than 0 seconds",
    ),
    (
        "every-negative",
        toml_entries(ENTRY.format(name="n") + "every = -5"),
        "schedule[0] (n): every: must be more than 0 seconds",
    ),
    (
        "every-bad-unit",
        toml_entries(ENTRY.format(name="u") + 'every = "5 weeks"'),
        "schedule[0] (u): every: '5 weeks' is not seconds or a duration",
    ),
    (
        "every-bool",
        toml_entries(ENTRY.format(name="t") + "every = true"),
        "schedule[0] (t): every: expected seconds",
    ),
    (
        "unknown-key",
        toml_entries(ENTRY.format(name="k") + 'every = 5\npromt = "typo"'),
        "schedule[0] (k): promt: unknown field (allowed: name, prompt",
    ),
    (
        "bad-action",
        toml_entries(ENTRY.format(name="x") + 'every = 5\nthen = ["upsample2", "zoom"]'),
        "schedule[0] (x): then: unknown action(s) ['zoom']",
    ),
    (
        "video-without-index",
        toml_entries(ENTRY.format(name="v") + 'every = 5\nthen = ["video:high"]'),
        "schedule[0] (v): then: 'video:high' after imagine needs an index",
    ),
    (
        "bad-mode",
        toml_entries(ENTRY.format(name="y") + 'every = 5\nmode = "warp"'),
        "schedule[0] (y): mode: Input should be 'fast', 'relax' or 'turbo'",
    ),
    ("no-prompt", toml_entries('name = "p"\nevery = 5'), "schedule[0] (p): prompt: required"),
    ("no-name", toml_entries('prompt = "a cat"\nevery = 5'), "schedule[0]: name: required"),
    (
        "empty-prompt",
        toml_entries('name = "e"\nprompt = ""\nevery = 5'),
        "schedule[0] (e): prompt: String should have at least 1 character",
    ),
    (
        "duplicate-name",
        toml_entries(
            ENTRY.format(name="dup") + "every = 5", ENTRY.format(name="dup") + "every = 6"
        ),
        "schedule[1] (dup): name: 'dup' is already used by schedule[0]",
    ),
    ("not-a-list", 'schedule = "daily"', "schedule: expected a list of entries"),
    ("top-level-typo", '[[schedules]]\nname = "a"', "unknown top-level key(s) schedules"),
    ("broken-toml", "[[schedule]\nname = 1", "not valid TOML"),
]


@pytest.mark.parametrize(
    ("text", "expected"), [(t, e) for _, t, e in BAD_FILES], ids=[i for i, _, _ in BAD_FILES]
)
def test_a_bad_schedule_file_is_refused_naming_the_file_entry_and_field(
    tmp_path: Path,
    text: str,
    expected: str,
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ScheduleError) as info:
        load_user_schedules(path)
    assert str(info.value).startswith(f"MJ_SCHEDULE_FILE {path}: ")
    assert expected in str(info.value)
    assert isinstance(info.value, ConfigError)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "s.json",
            '{"schedule": [{"name": "j", "every": 5, "prompt": "a", "mode": 3}]}',
            "schedule[0] (j): mode: ",
        ),
        ("s.json", '{"schedule": [1]}', "schedule[0]: expected a table of fields"),
        ("s.json", "{not json", "not valid JSON"),
        ("s.yaml", "schedule: []", "expected a .toml or .json file"),
        ("missing.toml", None, "cannot read it"),
    ],
)
def test_other_unusable_files_are_refused_clearly(
    tmp_path: Path,
    name: str,
    text: str | None,
    expected: str,
) -> None:
    path = write(tmp_path, text, name) if text is not None else tmp_path / name
    with pytest.raises(ScheduleError, match=r"MJ_SCHEDULE_FILE .*: ") as info:
        load_user_schedules(path)
    assert expected in str(info.value)


def test_the_celery_app_merges_the_user_schedules_into_beat(tmp_path: Path) -> None:
    from worker.adapter.app import create_app

    app = create_app(load_settings(mj_schedule_file=str(write(tmp_path, GOOD_TOML))))
    beat = app.conf.beat_schedule
    assert {"mj-pump", "mj-refresh-accounts", "user:morning-lighthouse", "user:often"} <= set(beat)


def test_the_celery_app_refuses_to_start_with_a_bad_schedule_file(tmp_path: Path) -> None:
    from worker.adapter.app import create_app

    bad = write(tmp_path, toml_entries(ENTRY.format(name="nightly") + 'cron = "0 9 * *"'))
    with pytest.raises(ConfigError, match=r"schedule\[0\] \(nightly\): cron: expected 5 fields"):
        create_app(load_settings(mj_schedule_file=str(bad)))


def memory_app() -> Celery:
    """A Celery client on kombu's in-memory broker, with a queue of its own for this test."""
    app = Celery("schedule-test", broker="memory://", set_as_current=False)
    app.conf.task_default_queue = f"schedule-test-{uuid.uuid4()}"
    return app


def by_name(app: Celery) -> Callable[..., Signature]:
    """A `pipeline` built from task names only, like `tasks.pipeline` but without the project."""

    def pipeline(prompt: str, *actions: str, **opts: Any) -> Signature:
        steps = [app.signature("mj.imagine", args=(prompt,), kwargs=opts)]
        steps += [app.signature("mj.action", kwargs={"action": a}) for a in actions]
        return chain(*steps) if len(steps) > 1 else steps[0]

    return pipeline


def published(app: Celery) -> list[list[tuple[str, str, dict[str, Any]]]]:
    """Every message on the app's queue, each as its chain's steps: (task id, name, kwargs)."""
    runs = []
    with app.connection_for_read() as conn:
        queue = conn.SimpleQueue(app.conf.task_default_queue)
        while True:
            try:
                message = queue.get(timeout=0.2)
            except Empty:
                break
            message.ack()
            _, kwargs, embed = message.payload
            steps = [(message.headers["id"], message.headers["task"], kwargs)]
            steps += [
                (s["options"]["task_id"], s["task"], s["kwargs"])
                for s in reversed(embed.get("chain") or [])
            ]
            runs.append(steps)
        queue.close()
    return runs


def test_a_run_publishes_imagine_then_actions_then_download_and_returns_the_first_task_id() -> None:
    app = memory_app()
    root = start_pipeline(
        app,
        by_name(app),
        prompt="a fox",
        then=["upsample1"],
        mode="relax",
        account="acct-1",
        download="nightly",
        run_id="msg-1",
    )
    [steps] = published(app)
    assert [name for _, name, _ in steps] == ["mj.imagine", "mj.action", "mj.download"]
    assert steps[0][2] == {"mode": "relax", "account": "acct-1"}
    assert steps[1][2] == {"action": "upsample1"}
    assert steps[2][2] == {"directory": "nightly"}
    assert root == steps[0][0]


def test_a_redelivered_run_publishes_the_same_task_ids_and_another_run_new_ones() -> None:
    app = memory_app()
    run: dict[str, Any] = {
        "prompt": "a fox",
        "then": ["upsample1", "upscale_creative"],
        "download": "nightly",
    }
    first = start_pipeline(app, by_name(app), run_id="msg-1", **run)
    again = start_pipeline(app, by_name(app), run_id="msg-1", **run)  # the same message again
    other = start_pipeline(app, by_name(app), run_id="msg-2", **run)  # the next tick
    one, two, three = ([step_id for step_id, _, _ in steps] for steps in published(app))
    assert first == again == one[0] and other == three[0]
    assert one == two == step_ids("msg-1", 4)
    assert len(set(one)) == 4 and not set(one) & set(three)


def test_step_ids_are_uuids_that_depend_on_the_run_and_the_step() -> None:
    ids = step_ids("msg-1", 3)
    assert ids == step_ids("msg-1", 3) and len(set(ids)) == 3
    assert all(str(uuid.UUID(i)) == i for i in ids)
    assert step_ids("msg-1", 2) == ids[:2]
    assert not set(ids) & set(step_ids("msg-2", 3))


def test_a_run_without_an_id_still_publishes_fresh_ids() -> None:
    app = memory_app()
    first = start_pipeline(app, by_name(app), prompt="a fox")
    second = start_pipeline(app, by_name(app), prompt="a fox")
    assert first != second
    assert [[name for _, name, _ in steps] for steps in published(app)] == [
        ["mj.imagine"],
        ["mj.imagine"],
    ]


def test_the_run_schedule_task_derives_the_pipeline_ids_from_its_own_message_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tasks

    seen: list[str | None] = []

    def fake_start(app: Any, pipeline: Any, **kwargs: Any) -> str:
        seen.append(kwargs.get("run_id"))
        return "root"

    monkeypatch.setattr(tasks.schedules, "start_pipeline", fake_start)
    run = {"name": "often", "prompt": "a fox"}
    for message_id in ("msg-1", "msg-1", "msg-2"):
        assert tasks.run_schedule.apply(kwargs=run, task_id=message_id).get() == "root"
    assert seen == ["msg-1", "msg-1", "msg-2"]


@pytest.mark.parametrize("download", ["../x", "a/../../x", "..", "a\\u0000b"])
def test_a_schedule_whose_download_leaves_mj_download_dir_is_refused_at_start_up(
    tmp_path: Path,
    download: str,
) -> None:
    body = ENTRY.format(name="d") + f'every = 5\ndownload = "{download}"'
    with pytest.raises(ScheduleError, match=r"schedule\[0\] \(d\): download: "):
        load_user_schedules(write(tmp_path, toml_entries(body)))


@pytest.mark.parametrize("download", ["nightly", "a/b", "/data/images", "/data/images/x"])
def test_a_schedule_may_download_to_a_sub_folder_or_an_absolute_path(
    tmp_path: Path,
    download: str,
) -> None:
    body = ENTRY.format(name="d") + f'every = 5\ndownload = "{download}"'
    beat = load_user_schedules(write(tmp_path, toml_entries(body)))
    assert beat["user:d"]["kwargs"]["download"] == download


def test_a_schedule_runs_video_steps_in_the_then_syntax_of_the_command_line(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        toml_entries(ENTRY.format(name="clip") + 'every = 60\nthen = ["upsample2", "video:high"]'),
    )
    kwargs = load_user_schedules(path)["user:clip"]["kwargs"]
    assert kwargs["then"] == ["upsample2", "video:high"]
    app = memory_app()
    pipeline = partial(build_pipeline, app)
    start_pipeline(
        app,
        lambda prompt, *then, **opts: pipeline(prompt, then, **opts),
        prompt="a fox",
        then=kwargs["then"],
        run_id="msg-v",
    )
    [steps] = published(app)
    assert [name for _, name, _ in steps] == ["mj.imagine", "mj.action", "mj.video"]
    assert steps[2][2] == {"motion": "high"}


def test_a_schedule_may_say_who_asks_and_how_urgent_and_its_run_passes_both_on(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        '[[schedule]]\nname = "n"\nevery = "1h"\nprompt = "a"\n'
        'tenant = "nightly"\npriority = "low"\n',
    )
    [entry] = load_user_schedules(path).values()
    assert (entry["kwargs"]["tenant"], entry["kwargs"]["priority"]) == ("nightly", "low")
    app = memory_app()
    start_pipeline(app, by_name(app), prompt="a fox", tenant="nightly", priority="low")
    [steps] = published(app)
    assert steps[0][2] == {"mode": "fast", "tenant": "nightly", "priority": "low"}


def test_a_schedule_that_names_no_caller_sends_no_caller_arguments(tmp_path: Path) -> None:
    # a worker of the release before has no tenant or priority arguments
    path = write(tmp_path, '[[schedule]]\nname = "n"\nevery = "1h"\nprompt = "a"\n')
    [entry] = load_user_schedules(path).values()
    assert "tenant" not in entry["kwargs"] and "priority" not in entry["kwargs"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('tenant = "a b"', "schedule[0] (n): tenant: 'a b' is not a tenant name"),
        ('priority = "asap"', "schedule[0] (n): priority: "),
    ],
)
def test_a_schedule_with_a_bad_caller_is_refused_at_start_up(
    tmp_path: Path, line: str, expected: str
) -> None:
    path = write(tmp_path, f'[[schedule]]\nname = "n"\nevery = "1h"\nprompt = "a"\n{line}\n')
    with pytest.raises(ScheduleError) as info:
        load_user_schedules(path)
    assert expected in str(info.value)
