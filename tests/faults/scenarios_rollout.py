"""Rows of a rollout: two beats at once with user schedules (a rolling redeploy of beat), and
a key rotated under load (the same TTAPI account, a new key, node by node)."""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from celery.result import AsyncResult

from tests.faults.harness import Harness, Plan, Sent
from tests.faults.registry import KEY_A, all_done, scenario
from tests.faults.row import Row

PERIOD_S = 3  # each schedule entry runs every 3 s
ENTRIES = 3
WINDOW_S = 15  # how long both beats run
_RUN = re.compile(r"mj\.run_schedule\[[^\]]+\] succeeded in [\d.]+s: '([^']+)'")
_SEND = re.compile(
    r"^\[([\d-]+ [\d:]+,\d+): INFO/Beat\] Scheduler: Sending due task user:(\S+)", re.M
)


def sends(log: str) -> set[tuple[str, int]]:
    """(entry, slot) of every run a beat sent: the slot is the period its send fell in (an
    aligned beat sends right after the slot's instant)."""
    found = set()
    for stamp, entry in _SEND.findall(log):
        at = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        found.add((entry, int(at // PERIOD_S)))
    return found


def schedule_file(workdir: Path, tag: str) -> Path:
    """ENTRIES entries, each its own prompt, every PERIOD_S."""
    path = workdir / "schedules.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(
            f'[[schedule]]\nname = "fox-{i}"\nevery = "{PERIOD_S}s"\n'
            f'prompt = "two beats {tag} fox {i}"\n\n'
            for i in range(ENTRIES)
        )
    )
    return path


@scenario(35, "two-beat-schedules", "two beats with user schedules (a rolling redeploy of beat)")
def two_beat_schedules(workdir: Path) -> Row:
    """Both beats send every run of every entry; each run is paid for once, none is lost."""
    started = time.monotonic()
    tag = f"{int(time.time() * 1000) % 10**8}"
    env = {"MJ_SCHEDULE_FILE": str(schedule_file(workdir, tag))}
    with Harness(Plan(keys=[KEY_A], fast_s=1.0, env=env), workdir) as h:
        h.start_node(1, beat=True)  # node 0 runs a beat too: two beats for WINDOW_S
        beats = [node.log_path for node in h.nodes]
        time.sleep(WINDOW_S)
        for i in range(2):  # the redeploy ends: beat stops, the runs sent go on
            h.start_node(i, beat=False)
        logs = h.log_text()
        runs = _RUN.findall(logs)  # each run_schedule message run: the pipeline's first task
        by_beat = [sends(p.read_text(errors="replace")) for p in beats]
        slots_sent = by_beat[0] | by_beat[1]
        distinct = sorted(set(runs))
        sent = [Sent(root, AsyncResult(root, app=h.stack.app)) for root in distinct]
        outcomes = h.wait(sent, 60)
        paid = Counter(
            j["prompt"] for j in h.stats()["jobs"].values() if f"two beats {tag}" in j["prompt"]
        )
        row = h.row(
            "two-beat-schedules",
            outcomes,
            started,
            slots=h.settle_slots(10),
            extra=f"{len(slots_sent)} runs due, {len(by_beat[0] & by_beat[1])} sent by both beats, "
            f"{len(runs)} run_schedule messages run, {sum(paid.values())} paid",
            checks={
                "both beats sent the same runs": len(by_beat[0] & by_beat[1]) >= 2 * ENTRIES,
                "each run paid once": sum(paid.values()) == len(slots_sent) == len(distinct),
                "every run done": bool(distinct) and all_done(outcomes),
            },
        )
        row.doubles = max(0, sum(paid.values()) - len(slots_sent))
        return row


@scenario(36, "key-rotated", "a key rotated under load (same TTAPI account), node by node")
def key_rotated(workdir: Path) -> Row:
    """Nothing paid twice, no result lost, the cap kept, while every node moves to a new key of
    the same account (keeping its label) and the old key is revoked at the end."""
    started = time.monotonic()
    new_key = f"{KEY_A}-rotated"
    with Harness(Plan(keys=[KEY_A], fast_s=2.0), workdir) as h:
        sent = h.send(60, "key-rotated")
        h.wait_until(lambda: h.submits() >= 10, 20)
        h.sim().rotate_key(KEY_A, new_key, keep_old=True)  # TTAPI: a new key; the old still works
        rotated = {"TTAPI_API_KEYS": f"{h.labels[0]}={new_key}"}
        at = []
        for i in (1, 0):  # a rolling deploy: one node, then the other
            h.start_node(i, rotated)
            at.append(h.submits())
        h.sim().rotate_key(KEY_A, new_key)  # every node runs the new key: the old one revoked
        outcomes = h.wait(sent, 90)
        slots = h.settle_slots(15)
        return h.row(
            "key-rotated",
            outcomes,
            started,
            slots=slots,
            extra=f"submits when each node moved to the new key: {at}; "
            f"401s={h.stats()['count_401']}",
            checks={
                "rotated under load": len(at) == 2 and 10 <= at[0] <= at[1] < len(sent),
                "all done": all_done(outcomes),
                "0 double submits": h.doubles([s.prompt for s in sent]) == 0,
                "peak within the cap": h.peak() <= 10,
                "0 slots left": slots == 0,
            },
        )
