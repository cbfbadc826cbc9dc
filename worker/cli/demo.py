"""`mjw demo` / `make demo`: the whole system on one machine, no key, no Docker, no root.

Starts an embedded redis-server (unless REDIS_URL is set), the local TTAPI simulator with two
accounts, a real `celery worker` (with beat) and the web process (webhooks, and the operator
page on a loopback port); runs a small batch of imagine → upsample2 → upscale_creative
pipelines and one imagine → upsample2 → video, with live progress; the workers store every
final image and clip under `./mj-demo/` (a file:// result store: `<yyyy>/<mm>/<dd>/<TTAPI job
id>/main.png`, `video-1.mp4`, thumbnails under `thumb/`) before the results are delivered, and
the paths are printed;
and stops everything it started — also on Ctrl-C and on error. With `keep`, everything stays
up after the batch (the page's URL and commands to try are printed) until Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console

from worker.devtools.embedded import CeleryProcess, RedisServer, free_port
from worker.devtools.simulator import SimConfig, Simulator

DEMO_KEYS = ["sk-demo-account-one", "sk-demo-account-two"]
PROMPTS = [
    "a lighthouse at dawn, oil painting",
    "a red fox in fresh snow --ar 3:2",
    "a tiny robot watering a bonsai",
    "an art deco train station at night",
    "a paper boat on a rainy street",
    "a hot air balloon over lavender fields",
    "a cat astronaut, studio lighting",
    "a glass teapot full of galaxies",
]
VIDEO_PROMPT = "a paper lantern rising over a dark lake"
VIDEO_STEPS = ["upsample2", "video:batch=2"]


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_demo(
    pipelines: int = 6,
    fast_s: float = 2.0,
    capacity: int = 3,
    *,
    keep: bool = False,
    out: Path = Path("mj-demo"),
) -> int:
    """Run the demo; returns the exit code (0 when every pipeline succeeded)."""
    console = Console(stderr=True)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="mjw-demo-") as tmp_name:
        tmp = Path(tmp_name)
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            redis_server = RedisServer(tmp / "redis").start()
            stack.callback(redis_server.stop)
            redis_url = redis_server.url
            console.print(f"embedded redis-server on {redis_url}")
        sim = Simulator(SimConfig(keys=DEMO_KEYS, capacity=capacity, fast_s=fast_s)).start()
        stack.callback(sim.stop)
        console.print(
            f"TTAPI simulator on {sim.url} (2 accounts, {capacity} jobs in progress "
            f"each, fast imagine = {fast_s:g} s)"
        )
        hook_port = free_port()
        env = {
            "REDIS_URL": redis_url,
            "TTAPI_API_KEYS": ",".join(DEMO_KEYS),
            "TTAPI_BASE_URL": sim.url,
            "TTAPI_MAX_IN_PROGRESS": str(capacity),
            "MJ_POLL_MIN_S": "0.1",
            "MJ_POLL_MAX_S": "1.0",
            "MJ_TIME_SCALE": f"{fast_s / 60:.6f}",
            "MJ_PUMP_INTERVAL_S": "1",
            "MJ_HOOK_BASE_URL": f"http://127.0.0.1:{hook_port}",
            "MJ_HOOK_SAFETY_POLL_S": "5",
            # Final images and clips stored in ./mj-demo/ before delivery (a file:// store); the
            # workers read them from the simulator on 127.0.0.1.
            "MJ_STORAGE_URL": f"file://{out.resolve()}",
            "MJ_DOWNLOAD_ALLOW_PRIVATE": "true",
        }
        os.environ.update(env)  # this process's own Celery client and receiver use them too
        worker = CeleryProcess(
            env,
            tmp / "worker.log",
            args=[
                "worker",
                "-n",
                "demo@%h",
                "-c",
                "4",
                "-l",
                "INFO",
                "-B",
                "-s",
                str(tmp / "celerybeat-schedule"),
                "--without-gossip",
                "--without-mingle",
            ],
        )
        worker.start()
        stack.callback(worker.stop)
        worker.wait_ready()
        console.print("celery worker (4 processes, with beat) is ready")
        page = _start_web(stack, hook_port, console)
        code, results = _run_batch(tmp, pipelines, console, sim)
        _save(results, out, console)
        if keep:
            _keep_running(redis_url, page, console)
        return code
    return 1  # pragma: no cover - the with-block always returns


def _start_web(stack: ExitStack, port: int, console: Console) -> str:
    """Both sides of `mjw web` in a thread: hooks on `port`, the page on a free loopback port."""
    from worker.adapter import patches
    from worker.adapter.api_jobs import CeleryJobs
    from worker.adapter.app import app
    from worker.cli.web_servers import api_runtime_of, make_web_servers

    patches.for_publisher()
    rt = app.runtime
    servers = make_web_servers(
        rt,
        ("127.0.0.1", port),
        ("127.0.0.1", free_port()),
        carry_out=app.dispatcher.carry_out,
        celery=CeleryJobs(app, carry_out=app.dispatcher.carry_out),
        api_runtime=api_runtime_of(rt),
    )
    thread = threading.Thread(target=servers.run, daemon=True)
    thread.start()

    def stop() -> None:
        servers.close()
        thread.join(timeout=5)

    stack.callback(stop)
    console.print(f"webhook receiver on http://127.0.0.1:{port}/hook/<token>")
    console.print(f"operator page on {servers.admin_url}")
    return servers.admin_url


def _save(results: list[dict[str, Any]], out: Path, console: Console) -> None:
    from worker.cli.demo_images import save_images, stored_paths

    stored, unstored = stored_paths(results)
    try:  # a result the store missed (stored: null) is downloaded here instead
        saved = [*stored, *save_images(unstored, out)]
    except (OSError, ValueError) as exc:  # requests' errors are OSErrors
        console.print(f"[yellow]could not save the files under {out}/: {exc}[/]")
        return
    if saved:
        console.print(f"\n[bold]images and videos saved[/] ({len(saved)}, under {out}/)")
        plain = Console(soft_wrap=True)
        for path in saved:
            plain.print(f"  {path}", markup=False, highlight=False)


def _keep_running(redis_url: str, page: str, console: Console) -> None:
    """Leave everything up, say how to look at it, and wait for Ctrl-C (then stop as usual)."""
    console.print(
        f"\n[bold]everything keeps running[/]: open the operator page at {page}\n"
        f"in another terminal (same machine):\n"
        f"  export REDIS_URL={redis_url}\n"
        "  mjw status --watch         # accounts, queues, workers, the pump\n"
        "  mjw jobs --recent          # what just ended (also --waiting, --active, --failed)\n"
        "  mjw show <task id>         # one job in full\n"
        '  mjw submit "a paper boat" --then upsample2 --wait\n'
        "Ctrl-C stops everything the demo started.",
        markup=True,
        highlight=False,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print("stopping")


def _run_batch(
    tmp: Path, pipelines: int, console: Console, sim: Simulator
) -> tuple[int, list[dict[str, Any]]]:
    from worker.adapter import patches
    from worker.adapter.app import app
    from worker.cli.batch import Row
    from worker.cli.batch_run import run_batch

    patches.for_publisher()
    rows = [
        Row(
            i + 1,
            PROMPTS[i % len(PROMPTS)] + (f" #{i + 1}" if i >= len(PROMPTS) else ""),
            ["upsample2", "upscale_creative"],
        )
        for i in range(pipelines)
    ]
    rows.append(Row(pipelines + 1, VIDEO_PROMPT, VIDEO_STEPS))
    console.print(
        f"running {pipelines} pipelines: imagine → upsample2 → upscale_creative, "
        "and 1: imagine → upsample2 → video"
    )
    summary = run_batch(app, list(rows), tmp / "results.jsonl", console=console)
    out = Console(soft_wrap=True)
    out.print("\n[bold]results[/]")
    for entry in sorted(summary.results, key=lambda e: e["line"]):
        result = entry.get("result") or {}
        mark = "[green]✓[/]" if entry["status"] == "SUCCESS" else "[red]✗[/]"
        out.print(
            f"{mark} #{entry['line']} {entry.get('prompt', '')}  "
            f"[dim]({result.get('account', '')}, {result.get('action', '')} "
            f"{result.get('job_id', '')})[/]"
        )
        shown = result.get("image_url") or (result.get("videos") or [None])[0]
        out.print(f"    {shown or entry.get('error', '')}", markup=False)
    stats = sim.stats()["accounts"]
    hooks = sum(a.get("hook_attempts", 0) for a in stats.values())
    console.print(
        f"{summary.done} succeeded, {summary.failed} failed; "
        f"peak jobs in progress per account: "
        f"{', '.join(str(a['peak_in_progress']) for a in stats.values())}; "
        f"{hooks} webhook callbacks"
    )
    return (0 if summary.failed == 0 else 1), summary.results
