"""The floor of a job's CPU (tests/bench/floor.py): its arithmetic and its report."""

from __future__ import annotations

import threading
import time

import pytest

from tests.bench.floor import GOAL_MS, Floor, report, thread_cpu_ms
from worker.adapter.message_conf import per_message


def test_a_jobs_floor_is_its_messages_one_submit_and_the_rest_fetches() -> None:
    floor = Floor(message_ms=1.5, submit_ms=0.5, fetch_ms=0.25, round_trip_ms=0.04)
    assert floor.job_ms(messages=2.0, calls=5.0) == pytest.approx(3.0 + 0.5 + 4 * 0.25)


def test_the_report_shows_each_part_the_floor_and_what_is_left_under_the_goal() -> None:
    floor = Floor(message_ms=1.5, submit_ms=0.5, fetch_ms=0.25, round_trip_ms=0.05)
    text = report(floor, messages=2.0, calls=5.0)
    assert "| a Celery message (worker: main process and pool) | 1.50 | 2 | 3.0 |" in text
    assert "| a TTAPI fetch (this thread) | 0.25 | 4 | 1.0 |" in text
    assert "**4.5**" in text
    assert f"{GOAL_MS - 4.5:.1f} ms is left" in text
    assert f"about {(GOAL_MS - 4.5) / 0.05:.0f} round trips" in text


def test_the_report_says_when_the_floor_alone_is_above_the_goal() -> None:
    floor = Floor(message_ms=10.0, submit_ms=0.5, fetch_ms=0.25, round_trip_ms=0.0)
    assert "The floor alone is above the goal" in report(floor, messages=2.0, calls=5.0)


def test_thread_cpu_counts_this_threads_work_per_call() -> None:
    calls: list[int] = []
    per_call = thread_cpu_ms(lambda: calls.append(sum(range(20_000))), 50)
    assert len(calls) == 51  # one warm-up call, then the measured ones
    assert per_call > 0


def test_thread_cpu_leaves_out_waiting_and_other_threads_work() -> None:
    # The simulator answers from its own threads: what they burn, and the wait for them, is
    # not the client's CPU (wall time would say 20 ms a call, process time the burner's too).
    stop = threading.Event()

    def burn() -> None:
        while not stop.is_set():
            sum(range(10_000))

    burner = threading.Thread(target=burn)
    burner.start()
    try:
        per_call = thread_cpu_ms(lambda: time.sleep(0.02), 5)
    finally:
        stop.set()
        burner.join()
    assert per_call < 2.0


def test_the_floor_app_handles_a_message_as_a_node_does() -> None:
    from tests.bench.floor_app import app as floor
    from worker.adapter.app import app as node

    settings = per_message()
    assert settings["task_acks_late"] and settings["worker_send_task_events"]
    for name, value in settings.items():
        assert floor.conf[name] == node.conf[name] == value, name
