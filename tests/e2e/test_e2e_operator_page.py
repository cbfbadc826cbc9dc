"""The operator page in a real headless browser against a real stack: it shows the accounts
and a finished job's thumbnail, and updates itself (no reload) when a job ends."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.browser import chromium, require_browser
from tests.support.opsdata import EngineCalls
from tests.support.stack import Stack
from worker.keys import Keys

pytestmark = pytest.mark.e2e
KEYS = ["sk-e2e-page-account-0001", "sk-e2e-page-account-0002"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    require_browser()
    return make_stack(keys=KEYS, capacity=2, fast_s=1.0, env={"MJ_PUMP_INTERVAL_S": "1"})


@pytest.fixture
def page_url(stack: Stack) -> Iterator[str]:
    """`mjw web` on free loopback ports with the stack's settings; stopped by its pid."""
    argv = ["web", "--host", "127.0.0.1", "--port", "0", "--admin", "127.0.0.1:0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker.cli", *argv],
        env={**os.environ, **stack.env},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        found = re.search(r"operator page on (http://\S+/)", lines[1])
        assert found, lines
        yield found.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_the_page_shows_accounts_and_a_thumbnail_and_updates_when_a_job_ends(
    stack: Stack, page_url: str
) -> None:
    with EngineCalls(stack.redis, Keys()) as engine, chromium() as page:
        first = stack.send("mj.imagine", "a lighthouse at dawn")
        first.get(timeout=60)
        engine.ended(first.id)

        page.goto(page_url, wait_until="networkidle")
        accounts = page.inner_text("#accounts")
        assert all(label in accounts for label in stack.labels)
        thumb = page.locator(f'figure.card[data-job="{first.id}"] img.thumb')
        thumb.wait_for(timeout=10_000)
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
        )
        page.wait_for_function(
            "() => document.querySelector('#health .badge').textContent === 'ok'",
            timeout=15_000,
        )
        page.evaluate("window.stillTheSamePage = true")

        second = stack.send("mj.imagine", "a red fox in fresh snow")
        second.get(timeout=60)
        engine.ended(second.id)
        page.locator(f'figure.card[data-job="{second.id}"] img.thumb').wait_for(timeout=15_000)
        assert page.evaluate("window.stillTheSamePage === true")  # updated in place
        assert page.evaluate("window.mjUpdates") >= 1
        assert "not updating" not in page.inner_text("#updated")
