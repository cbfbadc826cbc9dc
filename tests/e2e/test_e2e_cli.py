"""The `mjw` command line against a real stack: batches with bad rows, Ctrl-C and resume,
re-attaching with `mjw wait`, `--json`, `--retry-failed`, and refusals that send nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.signals import default_sigint
from tests.support.stack import Stack
from worker.cli.results import ResultReader
from worker.cli.wait import Step, describe
from worker.ttapi.requests import ACTIONS

pytestmark = pytest.mark.e2e
KEY = "sk-e2e-cli-account-0001"
BAD_LINES = {
    7: '{"prompt": "a cat", "mode": "warp"}',
    19: '{"prompt": "x", "then": ["upsample9"]}',
    33: '{"prompt": "a dog", "colour": "red"}',
}


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    return make_stack(keys=[KEY], capacity=10, fast_s=0.6)


def mjw(stack: Stack, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "worker.cli", *args],
        env={**os.environ, **stack.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )


def write_batch(path: Path, rows: int) -> None:
    lines = [BAD_LINES.get(n, f"a quiet harbour, study {n}") for n in range(1, rows + 1)]
    path.write_text("\n".join(lines) + "\n")


def results(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_a_batch_of_fifty_with_three_bad_rows_reports_them_and_runs_the_rest(
    stack: Stack, tmp_path: Path
) -> None:
    batch, out = tmp_path / "batch.txt", tmp_path / "out.jsonl"
    write_batch(batch, 50)
    proc = mjw(stack, "batch", str(batch), "--out", str(out), "--then", "upsample1")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err  # some rows failed
    rows = results(out)
    assert len(rows) == 50
    failed = {r["line"]: r["error"] for r in rows if r["status"] == "FAILED"}
    assert set(failed) == set(BAD_LINES)
    assert "mode" in str(failed[7]) and "upsample9" in str(failed[19])
    assert "colour" in str(failed[33])
    ok = [r for r in rows if r["status"] == "SUCCESS"]
    assert all(r["result"]["action"] == "upsample1" for r in ok)  # type: ignore[index]
    assert "47 done, 3 failed" in err


def test_a_batch_interrupted_with_sigint_resumes_without_submitting_any_prompt_twice(
    stack: Stack, tmp_path: Path
) -> None:
    batch, out = tmp_path / "batch.txt", tmp_path / "out.jsonl"
    batch.write_text("".join(f"a windmill, study {n}\n" for n in range(30)))
    # Two pipelines at a time, so that the batch is still running when Ctrl-C comes.
    first = mjw(stack, "batch", str(batch), "--out", str(out), "--concurrency-hint", "2")
    stack.wait_for(lambda: out.exists() and len(out.read_text().splitlines()) >= 5, 60)
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=30)
    assert first.returncode == 130, err
    assert err.strip().splitlines()[-1] == (
        "mjw batch: interrupted: the sent pipelines go on in the workers; to re-attach "
        "(nothing is sent twice), run the same command again: "
        f"mjw batch {batch} --out {out} --concurrency-hint 2"
    )
    done_before = len(results(out))
    assert done_before < 30
    time.sleep(0.5)  # let the in-flight chains keep running in the workers meanwhile
    second = mjw(stack, "batch", str(batch), "--out", str(out))
    _, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    rows = results(out)
    assert sorted(r["line"] for r in rows) == list(range(1, 31))
    prompts = Counter(j["prompt"] for j in stack.sim.stats()["jobs"].values())
    assert len(prompts) == 30
    assert set(prompts.values()) == {1}  # no prompt was ever submitted twice


def test_submit_with_wait_prints_the_task_id_and_the_final_images(stack: Stack) -> None:
    proc = mjw(stack, "submit", "a stone bridge", "--then", "upsample3", "--wait")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert len(lines[0]) == 36  # the final task's id
    assert "upsample3" in lines[1] and "/_sim/images/" in lines[1]
    assert "SUCCESS" in err  # the live view of every step


def test_submit_of_bad_input_is_one_clear_line_and_exit_code_2(stack: Stack) -> None:
    proc = mjw(stack, "submit", "a cat", "--then", "upsample9")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert out == ""
    assert err.strip().splitlines() == [
        f"mjw submit: then: unknown action(s) ['upsample9'] (valid: {', '.join(ACTIONS)}; "
        "or video[:OPTIONS], video_extend[:OPTIONS])"
    ]
    assert "Traceback" not in err


def test_an_unknown_action_in_a_batch_is_refused_before_anything_is_sent(
    stack: Stack, tmp_path: Path
) -> None:
    files = tmp_path / "files"
    files.mkdir()
    batch, out = files / "batch.txt", files / "out.jsonl"
    write_batch(batch, 3)
    proc = mjw(stack, "batch", str(batch), "--out", str(out), "--then", "explode")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert err.strip().splitlines() == [
        f"mjw batch: then: unknown action(s) ['explode'] (valid: {', '.join(ACTIONS)}; "
        "or video[:OPTIONS], video_extend[:OPTIONS])"
    ]
    assert sorted(p.name for p in files.iterdir()) == ["batch.txt"]
    assert stack.redis.llen("celery") == 0
    assert stack.sim.stats()["jobs"] == {}


def test_submit_json_prints_the_job_result_of_the_last_step(stack: Stack) -> None:
    proc = mjw(stack, "submit", "a copper kettle", "--then", "upsample2", "--json")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    result = json.loads(out)
    assert (result["action"], result["status"]) == ("upsample2", "SUCCESS")
    assert result["account"] == stack.labels[0] and "/_sim/images/" in result["image_url"]


def test_submit_json_of_a_failing_job_prints_the_error_document_and_exits_1(
    stack: Stack,
) -> None:
    proc = mjw(stack, "submit", "a banned kettle", "--then", "upsample2", "--json")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    doc = json.loads(out)
    assert (doc["status"], doc["step"], doc["action"]) == ("FAILURE", 1, "imagine")
    assert "[Banned prompt detected]" in doc["error"]
    assert err.strip().splitlines()[-1] == f"mjw submit: {doc['error']}"


def test_ctrl_c_in_submit_wait_says_how_to_re_attach_and_mjw_wait_gets_the_result_unpaid(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(keys=[KEY], capacity=10, fast_s=4)
    proc = mjw(stack, "submit", "a slow glacier", "--then", "upsample1", "--wait")
    assert proc.stdout is not None
    task_id = proc.stdout.readline().strip()
    stack.wait_for(lambda: len(stack.sim.stats()["jobs"]) >= 1, 30)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == (
        "mjw submit: interrupted: the pipeline goes on in the workers; "
        f"re-attach with: mjw wait {task_id}"
    )
    assert "rerun" not in err
    again = mjw(stack, "wait", task_id)
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert out.startswith("upsample1 ") and "/_sim/images/" in out
    actions = Counter(j["action"] for j in stack.sim.stats()["jobs"].values())
    assert actions == {"imagine": 1, "upsample1": 1}  # nothing paid twice


def test_retry_failed_resends_only_the_failed_rows_with_fresh_task_ids(
    stack: Stack, tmp_path: Path
) -> None:
    batch, out = tmp_path / "batch.txt", tmp_path / "out.jsonl"
    batch.write_text("a calm lake\na quiet forest\n")
    first = mjw(stack, "batch", str(batch), "--out", str(out))
    _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    stack.sim.set_faults(fail_paths=["imagine"])  # TTAPI's imagine is down for a while
    with batch.open("a") as fh:
        fh.write("a misty harbour\n")  # a new line: rows 1 and 2 stay what they were
    second = mjw(stack, "batch", str(batch), "--out", str(out))
    _, err = second.communicate(timeout=60)
    assert second.returncode == 1, err
    assert "0 done, 1 failed, 2 already done" in err
    failed = results(out)[-1]
    assert (failed["line"], failed["status"]) == (3, "FAILED")
    stack.sim.set_faults(fail_paths=[])
    third = mjw(stack, "batch", str(batch), "--out", str(out), "--retry-failed")
    _, err = third.communicate(timeout=60)
    assert third.returncode == 0, err
    assert "1 done, 0 failed, 2 already done (0 re-attached, 1 retried)" in err
    retried = results(out)[-1]
    assert (retried["line"], retried["status"]) == (3, "SUCCESS")
    assert set(retried["task_ids"]).isdisjoint(failed["task_ids"])  # type: ignore[arg-type]
    prompts = Counter(j["prompt"] for j in stack.sim.stats()["jobs"].values())
    assert prompts == {"a calm lake": 1, "a quiet forest": 1, "a misty harbour": 1}


def test_status_json_reports_each_account_by_label(stack: Stack) -> None:
    stack.send("mj.imagine", "a busy account").get(timeout=30)
    proc = mjw(stack, "status", "--json")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    data = json.loads(out)
    [acct] = data["accounts"]
    assert acct["account"] == stack.labels[0]
    assert (acct["in_use"], acct["cap"], acct["waiting"]) == (0, 10, 0)
    assert acct["balance"] is not None
    assert KEY not in out


def test_the_live_view_shows_a_waiting_job_by_position_and_a_submitted_one_by_progress(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(keys=[KEY], capacity=1, fast_s=3)
    reader = ResultReader(stack.app.backend)
    seen: dict[str, tuple[str, str, str]] = {}
    sent: dict[str, Any] = {}

    def seen_as(name: str, state: str) -> Callable[[], bool]:
        def look() -> bool:
            for key, meta in zip(sent, reader.read([r.id for r in sent.values()]), strict=True):
                seen.setdefault(f"{key} {meta.state}", describe(Step(sent[key].id), meta, None))
            return f"{name} {state}" in seen

        return look

    # One after the other: two entries sent at once run side by side in the pool, and either
    # may take the one slot first.
    sent["first"] = stack.send("mj.imagine", "a first lantern")
    stack.wait_for(seen_as("first", "SUBMITTED"), 30)
    second = sent["second"] = stack.send("mj.imagine", "a second")
    stack.wait_for(seen_as("second", "WAITING"), 30)
    assert seen["first SUBMITTED"][2].endswith(f"% on {stack.labels[0]}")
    assert seen["second WAITING"][2] == f"position 1 on {stack.labels[0]}"
    second.get(timeout=60)
