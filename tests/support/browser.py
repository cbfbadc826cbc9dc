"""A real headless browser for the operator page: Debian's Chromium, driven by Playwright.

Playwright's own browser download cannot work here (no network): it is pointed at the system's
`chromium` (`apt-get install chromium`; `.ci/run` installs it when missing). Chromium is
started headless with a fresh profile and without any background networking, which a closed
network would refuse. Under `CI=true` a missing browser fails the test; elsewhere it skips.

    python -m tests.support.browser URL OUT.png   # a screenshot of the page (docs/)
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    """The system's Chromium: $MJ_CHROMIUM, else `chromium` on PATH, else None."""
    named = os.environ.get("MJ_CHROMIUM")
    if named:
        return named if Path(named).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def missing() -> str | None:
    """Why no browser test can run here, or None when it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if chromium_path() is None:
        return "no chromium on PATH (apt-get install -y chromium)"
    return None


def require_browser() -> None:
    """Skip the test when there is no browser, but fail it under CI=true."""
    import pytest

    why = missing()
    if why is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser test cannot run: {why}")
    pytest.skip(why)


@contextmanager
def chromium(width: int = 1360, height: int = 900) -> Iterator[Any]:
    """A headless Chromium page with a fresh profile, closed afterwards."""
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    assert path is not None, missing()
    with tempfile.TemporaryDirectory(prefix="mj-chromium-") as profile, sync_playwright() as pw:
        # launch_persistent_context is how Playwright takes a --user-data-dir: a fresh one.
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=path,
            headless=True,
            args=FLAGS,
            viewport={"width": width, "height": height},
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def screenshot(url: str, out: Path, *, settle_ms: int = 2500) -> None:
    """Open `url`, let the page refresh itself once or twice, save a full-page PNG."""
    with chromium() as page:
        page.goto(url, wait_until="networkidle")
        page.wait_for_timeout(settle_ms)
        page.screenshot(path=str(out), full_page=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m tests.support.browser URL OUT.png")
    why = missing()
    if why:
        sys.exit(why)
    screenshot(sys.argv[1], Path(sys.argv[2]))
    print(sys.argv[2])
