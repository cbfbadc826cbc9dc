"""`python -m tests.bench.hops`: one `mj.imagine` from its task's run to its first poll, traced.

Both processes' product code runs here, against a redis-server and the simulator: the job's
task run as a pool process runs it (`tasks.jobs._run`: the app's Runtime, the entry, the
app's dispatcher), then the engine of a node (its core reading the account's hints, each
action run inside the app's dispatcher as its shell) until the job's first poll is due. A
profiler notes every call from one product file (worker/, tasks/, config/) into another: the
path's file-to-file hops, counted once per (caller function, callee function), as reading the
code would. Logging is left out (worker/adapter/logs.py, the journal's log lines), and so is
Celery's own code between the two processes (send_task, the consumer).

Prints the count, the files crossed and any call into a higher layer (there should be none);
`--path` prints every hop in order, `--json` all of it as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import itertools
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("worker/", "tasks/", "config/")
LEFT_OUT = ("worker/adapter/logs.py", "worker/devtools/")
LOG_LINES = ("parked", "submitted", "_fields")  # worker/jobs/journal.py: its log lines
KEY = "sk-hops-aaaa-0001"
Hop = tuple[str, str, str, str]  # caller file, caller function, callee file, callee function


def product_file(path: str) -> str | None:
    """`path` relative to the repository if it is product code the trace counts."""
    try:
        rel = str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return None
    return rel if rel.startswith(PRODUCT) and not rel.startswith(LEFT_OUT) else None


def layer(rel: str) -> float:
    """The layer of a product file (tests/unit/test_layout.py's; tasks/ sits on the adapter)."""
    from tests.unit.test_layout import LAYERS, unit_of

    if rel.startswith(("tasks/", "config/")):
        return LAYERS["adapter"] + 0.5 if rel.startswith("tasks/") else -1
    return LAYERS[unit_of(".".join(Path(rel).with_suffix("").parts))]


class Tracer:
    """A profiler keeping the hops while `on`."""

    def __init__(self) -> None:
        self.hops: list[Hop] = []
        self.on = False

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event != "call" or not self.on:
            return
        callee = product_file(frame.f_code.co_filename)
        if callee is None or _log_line(callee, frame):
            return
        caller_frame = frame.f_back
        while caller_frame is not None and product_file(caller_frame.f_code.co_filename) is None:
            caller_frame = caller_frame.f_back
        if caller_frame is None:
            return
        caller = product_file(caller_frame.f_code.co_filename)
        if caller is not None and caller != callee and not _log_line(caller, caller_frame):
            self.hops.append((caller, caller_frame.f_code.co_name, callee, frame.f_code.co_name))


def _log_line(rel: str, frame: FrameType) -> bool:
    return rel.endswith("jobs/journal.py") and frame.f_code.co_name in LOG_LINES


class Heap:
    """The engine's timers, one action after another (a `Scheduler`)."""

    def __init__(self) -> None:
        self.heap: list[tuple[float, int, Any]] = []
        self.order = itertools.count()

    def later(self, action: Any, delay_s: float) -> None:
        heapq.heappush(self.heap, (time.monotonic() + delay_s, next(self.order), action))

    def pending(self, kind: Any, arg: str) -> bool:
        return any(a.kind == kind and a.arg == arg for _, _, a in self.heap)


def trace() -> dict[str, Any]:
    """Run one imagine to its first poll (after one to warm up) and return what was traced."""
    from worker.devtools.embedded import RedisServer
    from worker.devtools.simulator import SimConfig, Simulator

    with tempfile.TemporaryDirectory(prefix="mj-hops-") as tmp:
        server = RedisServer(Path(tmp) / "redis").start()
        sim = Simulator(SimConfig(keys=[KEY], fast_s=5.0)).start()
        try:
            os.environ.update(
                REDIS_URL=server.url,
                TTAPI_API_KEYS=KEY,
                TTAPI_BASE_URL=sim.url,
                MJ_POLL_MIN_S="0.05",
                MJ_POLL_MAX_S="0.5",
            )
            os.environ.pop("MJ_HOOK_BASE_URL", None)
            return _traced()
        finally:
            sim.stop()
            server.stop()


def _traced() -> dict[str, Any]:
    from celery.exceptions import Ignore

    import tasks.jobs as task_module
    from config.settings import account_label
    from worker.adapter.app import app
    from worker.adapter.dispatch import CeleryDispatcher
    from worker.capacity.holdings import Holdings
    from worker.engine.core import ActionKind, EngineCore
    from worker.jobs.runtime import Runtime, redis_client

    label, settings, heap = account_label(KEY), app.mj_settings, Heap()
    holdings = Holdings(settings.mj_engine_lease_s)
    rt = Runtime.build(settings, redis_client(settings), holdings=holdings)
    core = EngineCore(rt, heap)
    shell = CeleryDispatcher(app, rt, hostname="celery@hops", engine=core)
    holdings.renewed(label, time.monotonic())
    core.owned.add(label)
    rt.redis.set(rt.keys.owner(label), "hops")
    tracer = Tracer()

    def one(traced: bool) -> None:
        job = str(uuid.uuid4())
        tracer.on = traced
        task = _Task(job)
        args = {"self": task, "prompt": "a red fox", "mode": "fast", "timeout": None}
        args |= {"get_u_images": False, "account": None, "tenant": None, "priority": None}
        with contextlib.suppress(Ignore):  # the pool process: the job's task runs (its entry)
            task_module._run(task, args)  # as mj.imagine does, with its locals()
        core.drain(label)  # the engine: its hint thread, then its actions in due order
        while heap.heap:
            due, _, action = heapq.heappop(heap.heap)
            if action.kind == ActionKind.POLL and action.arg == job:
                break  # its first poll is due
            time.sleep(max(0.0, due - time.monotonic()))
            shell.run(lambda a=action: core.perform(a))
            core.drain(label)
        tracer.on = False

    sys.setprofile(tracer)
    try:
        one(False)  # imports done, scripts loaded, connections made
        one(True)
    finally:
        sys.setprofile(None)
    hops = list(dict.fromkeys(tracer.hops))
    files = sorted({h[0] for h in hops} | {h[2] for h in hops})
    up = [h for h in hops if layer(h[0]) < layer(h[2])]
    return {"hops": len(hops), "calls": len(tracer.hops), "files": files, "up": up, "path": hops}


class _Request:
    def __init__(self, job_id: str) -> None:
        self.id, self.expires = job_id, None


class _Task:
    """What `tasks.jobs._run` reads of a Celery task: its name, request and signature."""

    name = "mj.imagine"

    def __init__(self, job_id: str) -> None:
        self.request = _Request(job_id)

    def signature_from_request(self) -> dict[str, Any]:
        kwargs = {"prompt": "a red fox"}
        return {"task": "mj.imagine", "id": self.request.id, "kwargs": kwargs, "options": {}}


def main(argv: list[str] | None = None) -> None:
    """Trace and print."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.hops", description=__doc__)
    parser.add_argument("--path", action="store_true", help="print every hop in order")
    parser.add_argument("--json", action="store_true", help="print everything as JSON")
    args = parser.parse_args(argv)
    found = trace()
    if args.json:
        print(json.dumps(found))
        return
    print(f"{found['hops']} hops ({found['calls']} calls) across {len(found['files'])} files")
    for caller, cf, callee, ef in found["up"]:
        print(f"UP: {caller}:{cf} -> {callee}:{ef}")
    if args.path:
        for caller, cf, callee, ef in found["path"]:
            print(f"{caller}:{cf} -> {callee}:{ef}")


if __name__ == "__main__":
    main()
