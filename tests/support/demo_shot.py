"""The README's screenshot of the operator page, taken from a demo run with the browser test's
tooling:

    python -m tests.support.demo_shot docs/operator-page.png

Runs `mjw demo --keep`, stands in for the engine's two operator calls (`EngineCalls`: the
recent-endings index and the pump's last run) where the engine does not make them yet, sends
a few more jobs so some are in flight and waiting, takes the screenshot, and stops the demo.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from tests.support.browser import missing, screenshot
from tests.support.opsdata import EngineCalls
from tests.support.stack import client_app
from worker.jobs.record import TERMINAL
from worker.keys import KEYS, Keys

ROOT = Path(__file__).resolve().parents[2]
MORE = [
    "a glass teapot full of galaxies",
    "a cat astronaut, studio lighting",
    "an art deco train station at night",
    "a tiny robot watering a bonsai",
    "a hot air balloon over lavender fields",
    "a paper boat on a rainy street",
    "a red fox in fresh snow --ar 3:2",
    "a lighthouse at dawn, oil painting",
    "a banned thing --fail",
]


def note_all_endings(client: redis.Redis, engine: EngineCalls) -> None:
    """Index every ended record (tooling only: it scans every job key)."""
    for key in client.scan_iter(match=KEYS.job("*"), count=500):
        job_id = str(key).removeprefix(KEYS.job(""))
        if client.hget(key, "state") in TERMINAL:
            engine.ended(job_id)


def main(out: Path) -> None:
    """Run the demo, fill it a little, take the screenshot, stop the demo."""
    with tempfile.TemporaryDirectory(prefix="mj-shot-") as tmp:
        env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "worker.cli", "demo", "--keep", "--fast", "6"],
            env={**env, "PYTHONPATH": str(ROOT)},
            cwd=tmp,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert proc.stdout is not None
            seen = ""
            while "Ctrl-C stops everything" not in seen:
                line = proc.stdout.readline()
                if not line:
                    raise SystemExit("the demo stopped:\n" + seen)
                seen += line
            url = re.search(r"open the operator page at (http://\S+/)", seen)
            redis_url = re.search(r"export REDIS_URL=(\S+)", seen)
            assert url and redis_url, seen
            client = redis.Redis.from_url(redis_url.group(1), decode_responses=True)
            app = client_app(redis_url.group(1))
            with EngineCalls(client, Keys()) as engine:
                for prompt in MORE + MORE[:5]:
                    app.send_task("mj.imagine", kwargs={"prompt": prompt})
                time.sleep(4.5)  # some end, six are in flight, the rest wait
                note_all_endings(client, engine)
                screenshot(url.group(1), out)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
    print(out)


if __name__ == "__main__":
    why = missing()
    if why or len(sys.argv) != 2:
        sys.exit(why or "usage: python -m tests.support.demo_shot OUT.png")
    main(Path(sys.argv[1]))
