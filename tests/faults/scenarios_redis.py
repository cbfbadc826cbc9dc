"""Rows where Redis loses its machine or its last writes: a host crash that cuts the AOF's tail,
a master SIGKILLed behind sentinels, a replica paused when the master dies, a failover to a
replica that missed the last second. Same redis-server binary for every node and sentinel."""

from __future__ import annotations

import ast
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tests.faults.harness import Harness, Plan
from tests.faults.registry import JOBS, KEY_A, all_done, none_hung, scenario
from tests.faults.row import Row
from tests.faults.scenarios_engine import engine_pid
from worker.keys import KEYS

CAP = 10
MARK = "mj-faults:written-after"  # a key written inside the window that must be lost


def aof_file(folder: Path) -> Path:
    """The file Redis appends to now: `appendonly.aof` (6.2), or the newest incremental file of
    `appendonlydir/` (7.0 and later)."""
    single = folder / "appendonly.aof"
    if single.exists():
        return single
    incr = list((folder / "appendonlydir").glob("*.incr.aof"))
    if not incr:
        raise RuntimeError(f"no append-only file under {folder}")
    return max(incr, key=lambda p: int(p.name.split(".")[-3]))


def engines(h: Harness) -> list[int]:
    """Each node's engine pid (0 where none runs)."""
    pids = []
    for i in range(len(h.nodes)):
        try:
            pids.append(engine_pid(h, i))
        except RuntimeError:
            pids.append(0)
    return pids


def submits_during(h: Harness, action: Callable[[], None]) -> int:
    """How many jobs TTAPI created while `action` ran."""
    before = h.submits()
    action()
    return h.submits() - before


@scenario(
    3, "redis-aof-cut", "Redis host crash: SIGKILL and the AOF's last second cut (no replica)"
)
def redis_aof_cut(workdir: Path) -> Row:
    """Writes really lost (the AOF as a host crash leaves it with `appendfsync everysec`); every
    job ends (done or failed clearly), no slot leaked, workers alive; a double submit can only
    come from a submit sent in the lost second (the window the README names)."""
    started = time.monotonic()
    with Harness(Plan(keys=[KEY_A], fast_s=2.0), workdir) as h:
        sent = h.send(JOBS, "redis-aof-cut")
        hit = h.wait_until(lambda: h.submits() >= 15, 45)
        aof = aof_file(h.single.workdir)
        cut_at, cut_t = aof.stat().st_size, h.stats()["elapsed"]
        time.sleep(1.0)  # the last second: jobs go on, Redis acknowledges, the disk lags
        h.redis.set(MARK, "1")
        h.single.kill()
        lost = aof.stat().st_size - cut_at
        with open(aof, "r+b") as f:
            f.truncate(cut_at)
            os.fsync(f.fileno())
        h.single.start()
        forgotten = h.redis.get(MARK) is None
        outcomes = h.wait(sent, 90)
        alive = sum(n.alive() for n in h.nodes)
        slots = h.settle_slots(15)
        doubled = _doubled_first_requests(h, [s.prompt for s in sent])
        in_window = all(t >= cut_t - 0.05 for t in doubled)
        return h.row(
            "redis-aof-cut",
            outcomes,
            started,
            slots=slots,
            extra=f"AOF cut by {lost} bytes (1 s); {rederived(h)}; doubles {len(doubled)}"
            + (f" ({'all' if in_window else 'NOT all'} sent in the lost 1 s)" if doubled else ""),
            checks={
                "crash mid-run": hit,
                "writes really lost": lost > 0 and forgotten,
                "all done or failed clearly": none_hung(outcomes),
                "doubles only from the lost second": in_window,
                "0 leaked slots": slots == 0,
                "workers alive": alive == len(h.nodes),
            },
        )


def _doubled_first_requests(h: Harness, prompts: list[str]) -> list[float]:
    """For each prompt TTAPI created more than once: when its first copy was requested."""
    firsts: dict[str, list[float]] = {}
    for job in h.stats()["jobs"].values():
        firsts.setdefault(job["prompt"], []).append(float(job["requested_at"] or 0.0))
    return [min(t) for p, t in firsts.items() if p in set(prompts) and len(t) > 1]


@scenario(25, "sentinel-failover", "master SIGKILLed mid-run behind 3 sentinels (2 replicas)")
def sentinel_failover(workdir: Path) -> Row:
    """A replica promoted, the old master back as a replica; all done, none paid twice, the cap
    held, workers and engines alive."""
    started = time.monotonic()
    with Harness(Plan(keys=[KEY_A], fast_s=2.0, replicas=2), workdir) as h:
        redis = h.replicated
        sent = h.send(JOBS, "sentinel-failover")
        hit = h.wait_until(lambda: h.submits() >= 12, 45)
        before = engines(h)
        old = redis.master()
        old.kill()
        killed = time.monotonic()
        new = redis.wait_promoted(old)
        promoted_s = time.monotonic() - killed
        old.start()
        back = h.wait_until(lambda: redis.replica_of(old, redis.master()), 45)
        outcomes = h.wait(sent, 120)
        alive = sum(n.alive() for n in h.nodes)
        after = engines(h)
        slots = h.settle_slots(15)
        return h.row(
            "sentinel-failover",
            outcomes,
            started,
            slots=slots,
            extra=f"promoted in {promoted_s:.1f} s, old master a replica again: {back}; "
            f"{rederived(h)}; "
            f"engines restarted {sum(a != b for a, b in zip(after, before, strict=True))}",
            checks={
                "failover mid-run": hit and new is not old,
                "old master back as a replica": back,
                "all done": all_done(outcomes),
                "0 double submits": h.doubles([s.prompt for s in sent]) == 0,
                "peak within the cap": h.peak() <= CAP,
                "workers alive": alive == len(h.nodes),
                "engines alive": all(after),
                "0 slots left": slots == 0,
            },
        )


@scenario(26, "replica-paused", "one of 2 replicas paused (SIGSTOP), then the master SIGKILLed")
def replica_paused(workdir: Path) -> Row:
    """Submits go on while the other replica acknowledges; after the failover they wait until a
    replica is back (the old master); all done, none paid twice."""
    started = time.monotonic()
    with Harness(Plan(keys=[KEY_A], fast_s=2.0, replicas=2), workdir) as h:
        redis = h.replicated
        sent = h.send(JOBS, "replica-paused")
        h.wait_until(lambda: h.submits() >= 6, 45)
        old = redis.master()
        paused, other = [n for n in redis.data if n is not old]
        paused.pause()
        try:
            went_on = submits_during(h, lambda: h.wait_until(lambda: h.submits() >= 18, 30))
            old.kill()
            new = redis.wait_promoted(old)
            waited = h.wait_until(lambda: h.redis.exists(KEYS.submits_paused) == 1, 20)
            old.start()
            back = h.wait_until(lambda: redis.replica_of(old, new), 45)
            outcomes = h.wait(sent, 120)
        finally:
            paused.resume()
        alive = sum(n.alive() for n in h.nodes)
        slots = h.settle_slots(15)
        return h.row(
            "replica-paused",
            outcomes,
            started,
            slots=slots,
            extra=f"{went_on} submits while a replica was paused; the other promoted: "
            f"{new is other}; submits paused until the old master replicated: {waited and back}",
            checks={
                "submits went on with one replica paused": went_on >= 8,
                "the replica that acknowledged was promoted": new is other,
                "submits paused while no replica acknowledged": waited,
                "all done": all_done(outcomes),
                "0 double submits": h.doubles([s.prompt for s in sent]) == 0,
                "peak within the cap": h.peak() <= CAP,
                "workers alive": alive == len(h.nodes),
                "0 slots left": slots == 0,
            },
        )


@scenario(27, "lost-writes", "the last second lost: failover to a replica that missed it")
def lost_writes(workdir: Path) -> Row:
    """The only replica is paused and its link cut (SIGSTOP alone loses nothing: the stream
    waits in its socket), the master acknowledges two more seconds of writes and dies, and the
    replica is promoted without them. Nothing was sent whose intent the replica lacks: none
    paid twice; all done; the old master returns as a replica."""
    started = time.monotonic()
    with Harness(Plan(keys=[KEY_A], fast_s=2.0, replicas=1), workdir) as h:
        redis = h.replicated
        sent = h.send(JOBS, "lost-writes")
        hit = h.wait_until(lambda: h.submits() >= 12, 45)
        old = redis.master()
        (replica,) = [n for n in redis.data if n is not old]
        replica.pause()
        try:
            old.client().client_kill_filter(_type="replica")  # nothing more reaches it
            ended_before = _ended(h)
            h.redis.set(MARK, "1")
            time.sleep(2.0)  # the master acknowledges polls, endings, reports; the replica lags
            ended_in_window = _ended(h) - ended_before
            old.kill()
        finally:
            replica.resume()
        new = redis.wait_promoted(old)
        forgotten = h.redis.get(MARK) is None
        old.start()
        back = h.wait_until(lambda: redis.replica_of(old, new), 45)
        outcomes = h.wait(sent, 120)
        alive = sum(n.alive() for n in h.nodes)
        slots = h.settle_slots(15)
        return h.row(
            "lost-writes",
            outcomes,
            started,
            slots=slots,
            extra=f"{ended_in_window} endings in the lost 2 s; writes lost: {forgotten}; "
            f"{rederived(h)}; old master a replica again: {back}",
            checks={
                "failover mid-run": hit,
                "writes really lost": forgotten,
                "all done": all_done(outcomes),
                "0 double submits": h.doubles([s.prompt for s in sent]) == 0,
                "peak within the cap": h.peak() <= CAP,
                "workers alive": alive == len(h.nodes),
                "0 slots left": slots == 0,
            },
        )


def rederived(h: Harness) -> str:
    """What the engines re-derived after the new master, summed from their logs."""
    done: Counter[str] = Counter()
    lines = re.findall(r"after a new Redis master: (\{.*\})", h.log_text())
    for line in lines:
        done.update({k: int(v) for k, v in ast.literal_eval(line).items()})
    said = ", ".join(f"{k} {v}" for k, v in done.items() if v) or "nothing to mend"
    return f"re-derived on {len(lines)} account(s): {said}"


def _ended(h: Harness) -> int:
    """Jobs ended so far, as Redis counts them (mj_jobs_total)."""
    return sum(int(v) for v in h.redis.hvals(KEYS.outcomes) if str(v).isdigit())
