"""A rolling upgrade, for real: jobs started by the release before, finished by this one.

The release before (99457b4, tests/support/upgrade.py) runs from a checkout of its own: its
`celery worker` (with its engine and beat) on a real redis-server and the simulator takes jobs
in every state: parked behind the full account, submitted and polling, a chain mid-way, a
submit whose answer was lost (AMBIGUOUS: TTAPI made the job; its history cannot be read while
the old node runs); its beat alone then sends user-schedule runs nobody has consumed yet. The
old node is stopped mid-flight (a warm shutdown, SIGTERM, or SIGKILL), and a node of this
release starts on the same Redis. Every job ends once (one `succeeded` per task over both
nodes' logs), none is paid twice (the simulator's counters), and each result has at least the
keys the old release's results had.
"""

from __future__ import annotations

import json
import re
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery.canvas import signature

from tests.support.stack import Stack
from tests.support.upgrade import (
    RELEASE_BEFORE,
    RESULT_KEYS_BEFORE,
    checkout,
    reachable,
    result_keys,
    unmet_requirements,
)
from worker.devtools.embedded import CeleryProcess
from worker.keys import KEYS

pytestmark = pytest.mark.e2e
KEY = "sk-e2e-upgrade-0001"
CAP = 4
IMAGINES = 7
PNG = "data:image/png;base64,iVBORw0KGgo="
SCHEDULED = "a scheduled fox of the release before"
SCHEDULE = f'[[schedule]]\nname = "old-fox"\nevery = "2s"\nprompt = "{SCHEDULED}"\n'
_SUCCEEDED = re.compile(r"Task (mj\.\w+)\[([0-9a-f-]+)\] succeeded")


@pytest.fixture(scope="module")
def release_before(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The release before's tree, checked out; skipped only when git cannot reach it."""
    why = reachable(RELEASE_BEFORE)
    if why:
        pytest.skip(f"the release before ({RELEASE_BEFORE}) cannot be checked out: {why}")
    root = checkout(RELEASE_BEFORE, tmp_path_factory.mktemp("release-before"))
    unmet = unmet_requirements(root)
    assert not unmet, f"the release before needs what this virtualenv lacks: {unmet}"
    return root


@pytest.fixture
def old_nodes() -> Iterator[list[CeleryProcess]]:
    """Processes of the release before a test starts; all stopped afterwards, even on failure."""
    started: list[CeleryProcess] = []
    try:
        yield started
    finally:
        for node in started:
            node.stop()


def succeeded(*nodes: CeleryProcess) -> Counter[str]:
    """How many times each task id was reported `succeeded`, over the nodes' logs."""
    text = "".join(n.log_path.read_text(errors="replace") for n in nodes if n.log_path.exists())
    return Counter(task_id for _, task_id in _SUCCEEDED.findall(text))


def queued(s: Stack, task: str) -> int:
    """Messages of `task` waiting in the default queue (each of its priority lists)."""
    lists = [k for k in s.redis.scan_iter("celery*") if s.redis.type(k) == "list"]
    messages = [json.loads(m) for k in lists for m in s.redis.lrange(k, 0, -1)]
    return sum(m.get("headers", {}).get("task") == task for m in messages)


def state(s: Stack, job_id: str) -> str:
    return str(s.redis.hget(KEYS.job(job_id), "state") or "")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_jobs_started_by_the_release_before_are_finished_by_this_one(
    make_stack: Callable[..., Stack],
    release_before: Path,
    old_nodes: list[CeleryProcess],
    tmp_path: Path,
    stop: signal.Signals,
) -> None:
    schedule = tmp_path / "schedules.toml"
    schedule.write_text(SCHEDULE)
    # Leases of 3 s: after a SIGKILL the new engine takes the account over within one.
    s = make_stack(start=False, keys=[KEY], capacity=CAP, fast_s=5.0,
                   env={"MJ_ENGINE_LEASE_S": "3"})  # fmt: skip
    old_env = {**s.env, "MJ_RECONCILE_GRACE_S": "60"}  # it never gives the lost answer up
    old = CeleryProcess(old_env, tmp_path / "old.log", args=s.args(0, "old"), root=release_before)
    old_nodes.append(old.start())
    old.wait_ready()

    # The lost answer first (it takes a slot): TTAPI makes the blend, its answer is a 500,
    # and TTAPI's history stays unreadable while the old node runs.
    s.sim.set_faults(rate_500_after_create=1.0, fault_paths=["blend"], fail_paths=["fetch-list"])
    lost = s.send("mj.blend", images=[PNG, PNG])
    s.wait_for(lambda: state(s, lost.id) == "AMBIGUOUS", 30)
    chain = (
        signature("mj.imagine", kwargs={"prompt": "an old chain's fox"}, app=s.app)
        | signature("mj.action", kwargs={"action": "upsample1"}, app=s.app)
    ).apply_async()
    first = chain.parent
    assert first is not None
    plain = [s.send("mj.imagine", f"an old release's fox {i}") for i in range(IMAGINES)]
    ids = [lost.id, first.id, *(r.id for r in plain)]
    s.wait_for(lambda: all(state(s, j) for j in ids), 30)  # every entry ran on the old node
    # ...whose records have no `tenant`: this release's entries write one, the old one's never.
    assert not any(s.redis.hexists(KEYS.job(j), "tenant") for j in ids)
    s.wait_for(lambda: [state(s, j) for j in ids].count("SUBMITTED") >= CAP - 1, 30)
    assert [state(s, j) for j in ids].count("WAITING") >= 1  # stopped mid-flight

    if stop == signal.SIGKILL:
        old.kill(signal.SIGKILL)
    old.stop()
    s.sim.set_faults(rate_500_after_create=0.0, fault_paths=[], fail_paths=[])
    # The old beat alone sends user-schedule runs that no worker consumes before the upgrade.
    beat = CeleryProcess(
        {**old_env, "MJ_SCHEDULE_FILE": str(schedule)},
        tmp_path / "old-beat.log",
        args=["beat", "-l", "INFO", "-s", str(tmp_path / "old-beat-schedule")],
        root=release_before,
    )
    old_nodes.append(beat.start())
    s.wait_for(lambda: queued(s, "mj.run_schedule") >= 1, 30)
    beat.stop()
    runs = queued(s, "mj.run_schedule")  # waiting for a worker: this release's

    s.start()  # this release, on the same Redis
    results = [lost, chain, *plain]
    deadline = time.monotonic() + 90
    while not all(r.ready() for r in results):
        assert time.monotonic() < deadline, {r.id: state(s, r.id) for r in results} | {
            "logs": s.logs()
        }
        time.sleep(0.1)
    done = [r.get(timeout=5) for r in results]
    assert all(d["status"] == "SUCCESS" for d in done)
    old_keys = result_keys(release_before)
    assert old_keys == RESULT_KEYS_BEFORE  # the copy the unit tests use is right
    assert all(set(d) >= old_keys for d in done), [sorted(old_keys - set(d)) for d in done]

    def scheduled() -> list[dict[str, Any]]:
        jobs = s.sim.stats()["jobs"].values()
        return [j for j in jobs if j["prompt"] == SCHEDULED and j["status"] == "SUCCESS"]

    s.wait_for(lambda: len(scheduled()) >= runs, 30)
    jobs = list(s.sim.stats()["jobs"].values())
    made = Counter((j["action"], j["prompt"]) for j in jobs)
    assert sum(n for (a, _), n in made.items() if a == "blend") == 1, made  # found, not resent
    assert made[("upsample1", "an old chain's fox")] == 1, made
    imagines = {p: n for (a, p), n in made.items() if a == "imagine" and p != SCHEDULED}
    assert imagines == {"an old chain's fox": 1} | {
        f"an old release's fox {i}": 1 for i in range(IMAGINES)
    }
    assert made[("imagine", SCHEDULED)] == runs  # each run the old beat sent, paid once
    reports = succeeded(old, *s.nodes)
    assert all(reports[r.id] == 1 for r in [lost, first, chain, *plain]), reports
    s.wait_for(lambda: s.holders(s.labels[0]) == 0, 20)
    s.wait_for(lambda: not s.redis.zcard(KEYS.undelivered), 20)
