"""What a row counts: from the simulator's `/_sim/stats` and from the guard's keys in Redis."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import redis

from tests.faults.row import Outcome, Row, describe, summary
from tests.support.stack import Stack
from worker.devtools.simulator import Simulator
from worker.keys import KEYS


class Counts:
    """Counters over one running stack; `labels` are every account the workers were given."""

    labels: list[str]
    _stack: Stack | None = None

    @property
    def stack(self) -> Stack:
        """The running stack (simulator, worker env, client app)."""
        if self._stack is None:
            raise RuntimeError("the stack is not started")
        return self._stack

    @property
    def redis(self) -> redis.Redis:
        """A client of the scenario's redis-server (str replies)."""
        return self.stack.redis

    def sim(self) -> Simulator:
        """The running simulator (faults and accounts can be changed through it)."""
        return self.stack.sim

    def stats(self) -> dict[str, Any]:
        """The simulator's stats document."""
        return self.stack.sim.stats()

    def account(self, label: str, counter: str) -> int:
        """One counter of one account (0 for an account the simulator does not know)."""
        return int(self.stats()["accounts"].get(label, {}).get(counter, 0))

    def total(self, counter: str) -> int:
        """One counter summed over every account."""
        return sum(int(a.get(counter, 0)) for a in self.stats()["accounts"].values())

    def submits(self) -> int:
        """Jobs TTAPI created so far, over every account."""
        return self.total("submits")

    def submitted(self) -> Counter[str]:
        """How many imagines TTAPI created for each prompt."""
        return Counter(
            j["prompt"] for j in self.stats()["jobs"].values() if j["action"] == "imagine"
        )

    def doubles(self, prompts: list[str]) -> int:
        """Prompts of ours that TTAPI saw submitted more than once."""
        seen = self.submitted()
        return sum(seen[p] > 1 for p in set(prompts))

    def peak(self) -> int:
        """The highest in-progress count of any account (the simulator's own measure)."""
        return max(
            (int(a["peak_in_progress"]) for a in self.stats()["accounts"].values()), default=0
        )

    def slots(self) -> int:
        """Slots held in the guard right now, over every account."""
        return sum(int(self.redis.zcard(KEYS.slots(label))) for label in self.labels)

    def waiters(self, label: str) -> list[str]:
        """Job ids parked on an account, head of the queue first."""
        return [str(j) for j in self.redis.zrange(KEYS.waiters(label), 0, -1)]

    def settle_slots(self, timeout: float) -> int:
        """Wait (bounded) for every slot to be freed; the slots still held then."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                held = self.slots()
            except redis.RedisError:
                held = -1
            if held == 0 or time.monotonic() > deadline:
                return held
            time.sleep(0.2)

    def row(
        self,
        scenario: str,
        outcomes: list[Outcome],
        started: float,
        *,
        slots: int,
        checks: dict[str, bool],
        extra: str = "",
    ) -> Row:
        """Build the scenario's row; doubles and peak come from the simulator."""
        tally = summary(outcomes)
        if tally["unclear"]:
            extra = f"{extra}, unclear failures={tally['unclear']}".lstrip(", ")
        return Row(
            scenario=scenario,
            jobs=len(outcomes),
            done=tally["done"],
            failed=tally["failed"],
            hung=tally["hung"],
            doubles=self.doubles([o.prompt for o in outcomes]),
            peak=self.peak(),
            slots=slots,
            extra=extra or "-",
            seconds=time.monotonic() - started,
            checks=checks,
            notes=describe(outcomes),
        )
