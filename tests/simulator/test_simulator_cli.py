"""`python -m worker.devtools.simulator` (the same code as `mjw simulator`) as a real subprocess."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from config.settings import account_label
from worker.devtools.simulator.cli import add_arguments, build_config

ROOT = Path(__file__).resolve().parents[2]
KEYS = ["sk-cli-key-aaaa1111", "sk-cli-key-bbbb2222"]


@pytest.fixture
def process() -> Iterator[subprocess.Popen[str]]:
    """The simulator CLI on a free port; killed if a test leaves it running."""
    command = [
        sys.executable,
        "-m",
        "worker.devtools.simulator",
        "--port",
        "0",
        "--keys",
        ",".join(KEYS),
        "--capacity",
        "3",
        "--fast",
        "0.5",
    ]
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=5)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_cli_prints_its_url_with_labels_serves_and_stops_cleanly_on_a_signal(
    process: subprocess.Popen[str], sig: signal.Signals
) -> None:
    assert process.stdout is not None and process.stderr is not None
    line = process.stdout.readline().strip()
    labels = ", ".join(account_label(key) for key in KEYS)
    assert line.startswith("TTAPI simulator listening on http://127.0.0.1:")
    assert line.endswith(f"(accounts: {labels})") and all(key not in line for key in KEYS)
    url = line.split(" on ")[1].split(" ")[0]
    info = requests.get(url + "/midjourney/v1/info", headers={"TT-API-KEY": KEYS[1]}, timeout=5)
    assert info.json()["data"]["max_queue"] == 3
    process.send_signal(sig)
    assert process.wait(timeout=10) == 0
    assert all(key not in process.stderr.read() for key in KEYS)


def test_cli_options_become_the_simulator_config() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        [
            "--keys",
            "a, b",
            "--fast",
            "2",
            "--fault-429",
            "0.1",
            "--fault-504",
            "0.2",
            "--fault-html-502",
            "0.3",
            "--slow",
            "0.4",
            "--drop-callbacks",
            "0.5",
            "--rate",
            "9",
            "--burst",
            "3",
        ]
    )
    config = build_config(args)
    assert config.keys == ["a", "b"] and config.fast_s == 2.0 and config.time_scale == 2 / 60
    assert (config.rate_per_s, config.burst) == (9.0, 3)
    faults = config.faults
    assert (faults.rate_429, faults.rate_504_after_create, faults.rate_html_502) == (0.1, 0.2, 0.3)
    assert (faults.slow_s, faults.drop_callback_rate) == (0.4, 0.5)


def test_cli_refuses_a_probability_above_one() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--keys", "a", "--fault-500", "1.5"])


def test_cli_spelling_options_become_the_simulator_faults() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    faults = build_config(parser.parse_args(["--keys", "a"])).faults
    assert (faults.submit_id_key, faults.video_list_key) == ("auto", "videos")
    args = parser.parse_args(["--keys", "a", "--submit-id", "job_id", "--video-list", "videoUrl"])
    faults = build_config(args).faults
    assert (faults.submit_id_key, faults.video_list_key) == ("job_id", "videoUrl")
    with pytest.raises(SystemExit):
        parser.parse_args(["--keys", "a", "--video-list", "clips"])
