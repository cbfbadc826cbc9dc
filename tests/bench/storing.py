"""The time storing adds to a result's delivery, and the CPU per stored image.

`python -m tests.bench.storing [--jobs N] [--quick]` starts a real redis-server, the simulator
(cap 10, 2 s jobs, its CDN serving 1024 px PNGs) and one worker node of 4 processes, and runs
N imagines twice: with storage off, then with MJ_STORAGE_URL on moto's S3 server on loopback
(this process). Per job, the *delivery delay* is the time from its end at TTAPI (the
simulator's clock) to the moment its caller saw it ready (polled every 10 ms); the table shows
p50 / p99 of both runs and what storing added. CPU: the node's whole process tree per stored
image (the second run's CPU minus the first's, ÷ images stored: the copy, the thumbnails, the
extra Redis calls) and the thumbnails' own (Pillow, thread time, from the node's log lines).
An imagine stores 5 images (the grid and four) and 5 thumbnails.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.bench import analysis
from tests.bench.cost import cpu_diff, tree_cpu
from tests.support.s3 import S3Server, storage_env
from tests.support.stack import Stack
from worker.devtools.embedded import RedisServer

KEY = "sk-bench-storing-0001"
CAP, FAST_S, IMAGE_PX = 10, 2.0, 1024
IMAGES_PER_JOB = 5
_STORED = re.compile(r"stored: (\d+) files, (\d+) bytes, (\d+) thumbnails in ([\d.]+) ms of CPU")


def run(jobs: int, workdir: Path, env: dict[str, str]) -> dict[str, Any]:
    """One run of `jobs` imagines with `env`; delays (s), CPU (s) and the node's log."""
    server = RedisServer(workdir / f"redis-{len(env)}").start()
    stack = Stack(
        server,
        workdir,
        keys=[KEY],
        capacity=CAP,
        fast_s=FAST_S,
        env={"MJ_DOWNLOAD_ALLOW_PRIVATE": "true", **env},
        sim={"image_px": IMAGE_PX},
    )
    try:
        stack.start()
        pids = [n.proc.pid for n in stack.nodes if n.proc is not None]
        before = tree_cpu(pids)
        sent = [stack.send("mj.imagine", f"storing bench {len(env)} {i}") for i in range(jobs)]
        seen: dict[str, float] = {}
        deadline = time.monotonic() + 60 + jobs * FAST_S
        while len(seen) < jobs and time.monotonic() < deadline:
            for r in sent:
                if r.id not in seen and r.ready():
                    seen[r.id] = time.monotonic()
            time.sleep(0.01)
        cpu = cpu_diff(before, tree_cpu(pids))
        stats = stack.sim.stats()
        t0 = stack.sim._engine.t0  # the simulator's clock: monotonic, this process
        ended = {
            r.id: (r.result or {}).get("job_id") for r in sent if r.id in seen and r.successful()
        }
        by_ttapi = {jid: j for jid, j in stats["jobs"].items()}
        delays = []
        for task_id, ttapi_id in ended.items():
            job = by_ttapi.get(ttapi_id or "")
            if job and job["finished_at"] is not None:
                delays.append(seen[task_id] - (t0 + job["finished_at"]))
        log = "".join(p.read_text(errors="replace") for p in workdir.glob("node*.log"))
        stored_ok = sum(bool((r.result or {}).get("stored")) for r in sent if r.id in seen)
    finally:
        stack.stop()
        server.stop()
    return {"delays": delays, "cpu": cpu, "log": log, "done": len(seen), "stored": stored_ok}


def measure(jobs: int, workdir: Path) -> dict[str, Any]:
    """Both runs; the figures of the table."""
    plain = run(jobs, workdir / "plain", {})
    s3 = S3Server("mj-bench").start()
    try:
        stored = run(jobs, workdir / "stored", storage_env(s3.endpoint, "mj-bench"))
    finally:
        s3.stop()
    lines = [tuple(float(x) for x in m) for m in _STORED.findall(stored["log"])]
    thumbs = sum(int(line[2]) for line in lines)
    thumb_ms = sum(line[3] for line in lines)
    images = stored["stored"] * IMAGES_PER_JOB
    out: dict[str, Any] = {"jobs": jobs, "done": (plain["done"], stored["done"])}
    for name, r in (("off", plain), ("on", stored)):
        for q in (50, 99):
            out[f"{name}_p{q}_ms"] = 1000 * analysis.percentile(r["delays"], q)
    for q in (50, 99):
        out[f"added_p{q}_ms"] = out[f"on_p{q}_ms"] - out[f"off_p{q}_ms"]
    out["stored_jobs"] = stored["stored"]
    out["cpu_per_image_ms"] = 1000 * (stored["cpu"] - plain["cpu"]) / max(images, 1)
    out["thumb_cpu_per_image_ms"] = thumb_ms / max(thumbs, 1)
    out["bytes_per_job"] = sum(int(line[1]) for line in lines) / max(len(lines), 1)
    return out


def main() -> None:
    """Print the figures as a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="20 jobs: a smoke test")
    args = parser.parse_args()
    jobs = 20 if args.quick else args.jobs
    with tempfile.TemporaryDirectory(prefix="mj-storing-") as tmp:
        r = measure(jobs, Path(tmp))
    print(
        "| jobs | delivery p50 / p99, storage off | on | added p50 / p99 | "
        "CPU per stored image (node) | thumbnail CPU per image | bytes per job |"
    )
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {r['jobs']} (stored {r['stored_jobs']}) | {r['off_p50_ms']:.0f} / "
        f"{r['off_p99_ms']:.0f} ms | {r['on_p50_ms']:.0f} / {r['on_p99_ms']:.0f} ms | "
        f"{r['added_p50_ms']:.0f} / {r['added_p99_ms']:.0f} ms | "
        f"{r['cpu_per_image_ms']:.1f} ms | {r['thumb_cpu_per_image_ms']:.1f} ms | "
        f"{r['bytes_per_job']:,.0f} |",
        flush=True,
    )


if __name__ == "__main__":
    main()
