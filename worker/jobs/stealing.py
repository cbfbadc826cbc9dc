"""An account with a place its own line leaves takes a waiter from another account's line.

One script (`SlotGuard.steal`) fills the receiving account from its own line, then takes the
best waiters the other lines let another account take (most urgent class, then the tenant
furthest below its share, then the line's order) out of their donors' lines and grants them
places here, in the same breath. The job's record then moves by compare-and-set, expecting the
job still unsent on its donor; if that fails (it was sent, ended, or placed elsewhere by
another mover such as `placement.account_for`), the place is given back. A donor's engine that
handed the same job a place meanwhile finds the record on this account and gives its own back
(`submit.take_over`). Finding donors is one read: the set of accounts whose lines hold a job
another may take.
"""

from __future__ import annotations

import logging
import random

from worker.capacity.lanes import VIDEO_SUFFIX
from worker.jobs.effects import Effects, Submit
from worker.jobs.offers import unblock
from worker.jobs.record import UNSENT
from worker.jobs.runtime import Runtime
from worker.jobs.settle import hand_on
from worker.policy import STEAL_DONORS
from worker.text import text

log = logging.getLogger(__name__)


def fill_account(rt: Runtime, label: str) -> Effects:
    """Hand `label`'s free places to its own line; with a place left while another line holds
    a job it may take, take one (what the engine's fill action does)."""
    woken = rt.guard.fill(label)
    fx = [*hand_on(rt, label, list(woken)), *unblock(rt, label, woken)]
    if woken.spare:
        fx += steal(rt, label)[1]
    return fx


def steal(rt: Runtime, label: str) -> tuple[list[str], Effects]:
    """Take waiters of other accounts' lines for `label`'s places left; the ids moved here."""
    if rt.pool.disabled_reason(label) is not None:
        return [], []
    video = label.endswith(VIDEO_SUFFIX)
    donors = [
        d
        for d in (text(x) for x in rt.redis.smembers(rt.keys.pool[2]))
        if d != label and d.endswith(VIDEO_SUFFIX) == video and rt.pool.configured(d)
    ]
    if not donors:
        return [], []
    random.shuffle(donors)
    own, taken = rt.guard.steal(label, donors[:STEAL_DONORS])
    fx = [*hand_on(rt, label, list(own)), *unblock(rt, label, own)]
    moved = []
    for job_id, donor in taken:
        if rt.records.cas(job_id, {"account": donor, "state": list(UNSENT)}, account=label):
            log.info("job %s moved from %s to %s, where a place was free", job_id, donor, label)
            moved.append(job_id)
            fx.append(Submit(label, job_id))
        else:  # sent, ended or placed elsewhere meanwhile: its place here goes on
            fx += hand_on(rt, label, rt.guard.release(label, job_id))
    return moved, fx


__all__ = ["fill_account", "steal"]
