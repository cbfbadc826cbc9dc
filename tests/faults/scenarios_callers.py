"""Rows of many callers, one pool: jobs moved between accounts while things break, tenants' caps
and quotas with two nodes. In each: no job paid twice, none lost, no cap exceeded."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

from tests.faults.harness import Harness, Plan, Sent
from tests.faults.registry import KEY_A, KEY_B, all_done, scenario
from tests.faults.row import Row
from tests.faults.scenarios_engine import engine_pid, held_by
from worker.jobs import hints
from worker.keys import KEYS

KEY_C = "sk-faults-account-c-0004"
CAP = 4


def send_as(h: Harness, n: int, label: str, **kwargs: Any) -> list[Sent]:
    """`n` imagines with `kwargs` (tenant, priority), each with its own prompt."""
    sent = []
    for i in range(n):
        prompt = f"{label} {h.tag} lantern {i}"
        kw = {"prompt": prompt, **kwargs}
        result = h.stack.app.send_task("mj.imagine", kwargs=kw, task_id=str(uuid.uuid4()))
        sent.append(Sent(prompt, result))
    return sent


def out_of_rotation(h: Harness, label: str) -> None:
    """Take `label` out of rotation, as a 402 does (for longer than the row lasts)."""
    h.redis.set(KEYS.disabled(label), "402 taken out by the fault row", ex=600)


def back_in_rotation(h: Harness, label: str) -> None:
    """Put it back and have its engine fill, as the account refresh does."""
    h.redis.delete(KEYS.disabled(label))
    hints.push(h.redis, KEYS, label, [hints.fill_hint()])


def peak_at_ttapi(h: Harness, prefix: str) -> int:
    """The most jobs whose prompt starts with `prefix` TTAPI ran at once (its own clock)."""
    edges = []
    for job in h.stats()["jobs"].values():
        if job["prompt"].startswith(prefix) and job["submitted_at"] is not None:
            edges.append((job["submitted_at"], 1))
            edges.append((job["finished_at"] if job["finished_at"] is not None else 1e9, -1))
    running = peak = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):
        running += step
        peak = max(peak, running)
    return peak


def moved(h: Harness, label: str) -> int:
    """Jobs TTAPI ran on `label`."""
    return h.account(label, "submits")


@scenario(50, "steal-donor-killed", "jobs move from A's line to B while A's engine is killed")
def steal_donor_killed(workdir: Path) -> Row:
    """B back in rotation takes waiters from A's line; A's engine is SIGKILLed meanwhile."""
    started = time.monotonic()
    plan = Plan(keys=[KEY_A, KEY_B], capacity=CAP, fast_s=2.0, env={"MJ_ENGINE_LEASE_S": "3"})
    with Harness(plan, workdir) as h:
        a, b = h.labels
        h.wait_until(lambda: all(held_by(h).values()), 20)
        out_of_rotation(h, b)
        sent = h.send(40, "steal-donor")
        h.wait_until(lambda: len(h.waiters(a)) >= 25, 30)
        back_in_rotation(h, b)
        h.wait_until(lambda: moved(h, b) >= 2, 20)
        donor = held_by(h)[a]
        node = 0 if donor.startswith("node0@") else 1
        os.kill(engine_pid(h, node), signal.SIGKILL)
        outcomes = h.wait(sent, 120)
        slots = h.settle_slots(15)
        on_b = moved(h, b)
        return h.row(
            "steal-donor-killed",
            outcomes,
            started,
            slots=slots,
            extra=f"B ran {on_b} of A's line; A's engine (node {node}) killed",
            checks={
                "B took jobs from A's line": on_b >= 5,
                "all done": all_done(outcomes),
                "0 double submits": h.doubles([s.prompt for s in sent]) == 0,
                f"no account over {CAP}": h.peak() <= CAP,
                "0 slots left": slots == 0,
            },
        )


@scenario(51, "steal-race", "two nodes' accounts race to take the same waiters of A's line")
def steal_race(workdir: Path) -> Row:
    """B (only node 0 knows it) and C (only node 1) both take from A's line at once."""
    started = time.monotonic()
    plan = Plan(
        keys=[KEY_A, KEY_B, KEY_C],
        capacity=CAP,
        fast_s=1.5,
        env={"MJ_ENGINE_LEASE_S": "3"},
        node_env={
            0: {"TTAPI_API_KEYS": f"{KEY_A},{KEY_B}"},
            1: {"TTAPI_API_KEYS": f"{KEY_A},{KEY_C}"},
        },
    )
    with Harness(plan, workdir) as h:
        a, b, c = h.labels
        h.wait_until(lambda: all(held_by(h).values()), 20)
        owners = held_by(h)
        out_of_rotation(h, b)
        out_of_rotation(h, c)
        sent = h.send(60, "steal-race")
        h.wait_until(lambda: len(h.waiters(a)) >= 40, 30)
        back_in_rotation(h, b)
        back_in_rotation(h, c)
        outcomes = h.wait(sent, 120)
        slots = h.settle_slots(15)
        on_b, on_c = moved(h, b), moved(h, c)
        return h.row(
            "steal-race",
            outcomes,
            started,
            slots=slots,
            extra=f"B ran {on_b}, C ran {on_c}; B on {owners[b][:5]}, C on {owners[c][:5]}",
            checks={
                "B and C both took from A's line": on_b >= 5 and on_c >= 5,
                "their engines ran on two nodes": {owners[b][:5], owners[c][:5]}
                == {"node0", "node1"},
                "all done": all_done(outcomes),
                "0 double submits": h.doubles([s.prompt for s in sent]) == 0,
                f"no account over {CAP}": h.peak() <= CAP,
                "0 slots left": slots == 0,
            },
        )


@scenario(52, "tenant-cap-402", "a tenant at max_in_progress 3 while its jobs' account gets a 402")
def tenant_cap_402(workdir: Path) -> Row:
    """Its jobs move to B; the tenant never runs more than 3 at once, on any account."""
    started = time.monotonic()
    env = {"MJ_TENANTS": '{"team": {"max_in_progress": 3}}', "MJ_ENGINE_LEASE_S": "3"}
    plan = Plan(keys=[KEY_A, KEY_B], capacity=10, fast_s=2.0, env=env)
    with Harness(plan, workdir) as h:
        a, _ = h.labels
        h.wait_until(lambda: all(held_by(h).values()), 20)
        team = send_as(h, 24, "team", tenant="team")
        others = send_as(h, 16, "others")
        h.wait_until(lambda: h.account(a, "submits") >= 4, 30)
        h.sim().set_account(KEY_A, balance=0)
        outcomes = h.wait(team + others, 120)
        slots = h.settle_slots(15)
        busy = sum(int(n) for n in h.redis.hvals(KEYS.pool[1]))
        peak = peak_at_ttapi(h, "team")
        return h.row(
            "tenant-cap-402",
            outcomes,
            started,
            slots=slots,
            extra=f"team's peak at TTAPI {peak}, 402s {h.total('count_402')}, busy after {busy}",
            checks={
                "team never over 3 at TTAPI": peak <= 3,
                "team reached its cap": peak == 3,
                "all done": all_done(outcomes),
                "0 double submits": h.doubles([s.prompt for s in team + others]) == 0,
                "0 slots left, in-progress counts 0": slots == 0 and busy == 0,
            },
        )


@scenario(53, "daily-quota", "daily_jobs 25 for a tenant, 40 of its jobs at once on two nodes")
def daily_quota(workdir: Path) -> Row:
    """Exactly 25 run; 15 fail naming the tenant and the limit, with no HTTP call for them."""
    started = time.monotonic()
    env = {"MJ_TENANTS": '{"nightly": {"daily_jobs": 25}}'}
    with Harness(Plan(keys=[KEY_A, KEY_B], fast_s=1.0, env=env), workdir) as h:
        sent = send_as(h, 40, "quota", tenant="nightly", priority="low")
        outcomes = h.wait(sent, 90)
        slots = h.settle_slots(15)
        refused = [o for o in outcomes if "daily_jobs limit of 25" in o.message]
        done = sum(o.state == "SUCCESS" for o in outcomes)
        return h.row(
            "daily-quota",
            outcomes,
            started,
            slots=slots,
            extra=f"{done} done, {len(refused)} refused, TTAPI created {h.submits()}",
            checks={
                "25 done": done == 25,
                "15 refused naming tenant and limit": len(refused) == 15
                and all("tenant nightly" in o.message for o in refused),
                "no HTTP call for a refused one": h.submits() == 25,
                "0 double submits": h.doubles([s.prompt for s in sent]) == 0,
                "0 slots left": slots == 0,
            },
        )
