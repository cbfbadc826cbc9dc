"""Which node's engine holds which account: leases in Redis, shared out evenly, renewed often.

Every engine beats `ENGINE_BEATS_PER_LEASE` times per `lease_s` (`Timing.engine_beat_s`): it
notes itself among the live engines, renews the account leases it holds (a token lease each:
`owner` key, SET NX PX), gives back what it holds above its fair share (accounts / live
engines, rounded up) and takes free accounts up to it. An account free for two beats in a row
is taken whatever the share, so none stays without an engine. A node that dies or stalls stops
renewing: its accounts are free within one lease, and another engine takes them over (and
looks at all their jobs at once). A lease is also valid here only while this process renewed
it within the lease, by its own monotonic clock: a node that wakes from a stall knows it lost
its accounts before anyone tells it (`worker.capacity.holdings`: the Runtime's, in the engine,
where a submit checks it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from worker.capacity.holdings import Holdings
from worker.capacity.leases import Lease, new_token, renew_all, take_all
from worker.jobs.runtime import Runtime
from worker.policy import ENGINE_GONE_LEASES


class Ownership:
    """The account leases of one engine (`token` names it; `node` is its node's name); what it
    holds is noted in `holdings` (the Runtime's when it checks leases)."""

    def __init__(
        self,
        rt: Runtime,
        node: str,
        *,
        lease_s: float,
        monotonic: Callable[[], float] = time.monotonic,
        holdings: Holdings | None = None,
    ) -> None:
        self.rt = rt
        self.lease_s = lease_s
        self.token = f"{node}|{new_token()}"
        self._monotonic = monotonic
        self.holdings = holdings or Holdings(lease_s, monotonic=monotonic)
        self._seen_free: set[str] = set()
        self._leases: dict[str, Lease] = {}

    def _lease(self, label: str) -> Lease:
        if label not in self._leases:
            self._leases[label] = Lease(self.rt.redis, self.rt.keys.owner(label))
        return self._leases[label]

    @property
    def held(self) -> list[str]:
        """The accounts this engine holds now (by its own clock)."""
        return [lb for lb in self.holdings.labels() if self.holds(lb)]

    def holds(self, label: str) -> bool:
        """True while this engine renewed `label`'s lease within the lease (minus a margin)."""
        return self.holdings.holds(label)

    def beat(self) -> tuple[list[str], list[str]]:
        """One beat (see the module docstring); returns the accounts (taken, lost)."""
        rt, now = self.rt, self.rt.clock()
        started = self._monotonic()
        pipe = rt.redis.pipeline(transaction=False)
        pipe.zadd(rt.keys.engines, {self.token: now})
        pipe.zremrangebyscore(rt.keys.engines, "-inf", now - ENGINE_GONE_LEASES * self.lease_s)
        pipe.zcount(rt.keys.engines, now - self.lease_s, "+inf")
        live = max(1, int(pipe.execute()[2]))
        labels = rt.pool.guard_labels
        share = math.ceil(len(labels) / live) if labels else 0
        back, lost = self._renew_held(started)
        mine = self.holdings.labels()
        extra = len(mine) - share
        for label in sorted(mine)[: max(0, extra)]:
            self.give_back(label)
            lost.append(label)
        owners = rt.redis.mget([rt.keys.owner(lb) for lb in labels]) if labels else []
        mine = self.holdings.labels()
        wanted, room = [], share - len(mine)
        for label, owner in zip(labels, owners, strict=True):
            if owner is not None or label in mine:
                self._seen_free.discard(label)
                continue
            orphaned = label in self._seen_free
            self._seen_free.add(label)
            if room > 0 or orphaned:
                wanted.append(label)
                room -= 1
        back = [label for label in back if label not in lost]  # not given back just now
        return back + self._take_all(wanted, started), lost

    def give_back(self, label: str) -> None:
        """Give the account's lease back at once (another engine takes it at its next beat)."""
        self.holdings.lost(label)
        self._lease(label).give_back(self.token)

    def give_back_all(self) -> list[str]:
        """Give every lease back (a clean stop); returns the accounts given back."""
        labels = self.holdings.labels()
        for label in labels:
            self.give_back(label)
        pipe = self.rt.redis.pipeline(transaction=False)
        pipe.zrem(self.rt.keys.engines, self.token)
        pipe.execute()
        return labels

    def _renew_held(self, started: float) -> tuple[list[str], list[str]]:
        """Renew every lease held, in one round trip: the ones renewed after this engine's
        own clock said they lapsed (its engine dropped them then: they are taken again, and
        looked at anew), and the ones that lapsed meanwhile."""
        held = self.holdings.labels()
        keys = [self.rt.keys.owner(lb) for lb in held]
        back, lost, renewed = [], [], renew_all(self.rt.redis, keys, self.token, self.lease_s)
        for label, ok in zip(held, renewed, strict=True):
            if ok:
                if not self.holdings.holds(label):
                    back.append(label)
                self.holdings.renewed(label, started)
            else:
                self.holdings.lost(label)
                lost.append(label)
        return back, lost

    def _take_all(self, labels: list[str], started: float) -> list[str]:
        """Take the free accounts `labels` in one round trip; the ones this engine got."""
        keys = [self.rt.keys.owner(lb) for lb in labels]
        taken, got = [], take_all(self.rt.redis, keys, self.token, self.lease_s)
        for label, ok in zip(labels, got, strict=True):
            if ok:
                self.holdings.renewed(label, started)
                self._seen_free.discard(label)
                taken.append(label)
        return taken


__all__ = ["Ownership"]
