"""The `mjw` command line against a real stack: batches with bad rows, Ctrl-C and resume."""

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

import pytest

from tests.stack import Stack

pytestmark = pytest.mark.e2e
KEY = "sk-e2e-cli-account-0001"
BAD_LINES = {7: '{"prompt": "a cat", "mode": "warp"}', 19: '{"prompt": "x", "then": ["upsample9"]}',
             33: '{"prompt": "a dog", "colour": "red"}'}


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    return make_stack(keys=[KEY], capacity=10, fast_s=0.6)


def default_sigint() -> None:
    """A shell that runs us in the background ignores SIGINT; the child must not inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def mjw(stack: Stack, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "worker.cli", *args],
                            env={**os.environ, **stack.env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)


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
    assert "rerun" in err
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
    assert err.strip().splitlines() == ["mjw submit: then: unknown action(s) ['upsample9']"]
    assert "Traceback" not in err


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
