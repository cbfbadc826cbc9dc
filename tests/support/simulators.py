"""Simulators for tests: the default settings, and a factory that stops every one it started.

The `make_sim` fixture (tests/conftest.py) hands a test a `SimFactory`; the `sim` fixture is
`make_sim()` with the defaults below. A module whose simulator differs keeps a tiny `sim`
fixture of its own that calls `make_sim(...)` with only what differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from config.settings import account_label
from worker.devtools.simulator import SimConfig, Simulator

KEY, OTHER = "sk-test-one-0123456789", "sk-test-two-9876543210"
LABEL, OTHER_LABEL = account_label(KEY), account_label(OTHER)
CAPACITY = 10  # TTAPI's cap
FAST_S = 0.2  # a fast imagine takes 0.2 s, so TTAPI's 300 s timeout lasts 1 s


class SimFactory:
    """Starts simulators (`factory(keys=..., capacity=..., fast_s=..., **config)`);
    `stop_all()` stops each one it started, even when another one's stop fails."""

    def __init__(self) -> None:
        self.made: list[Simulator] = []

    def __call__(
        self,
        keys: Sequence[str] = (KEY, OTHER),
        capacity: int = CAPACITY,
        fast_s: float = FAST_S,
        **config: Any,
    ) -> Simulator:
        sim = Simulator(SimConfig(keys=list(keys), capacity=capacity, fast_s=fast_s, **config))
        self.made.append(sim)  # before start: a start that fails half-way is stopped too
        return sim.start()

    def stop_all(self) -> None:
        """Stop every simulator started, newest first; re-raise the first stop that failed."""
        errors: list[BaseException] = []
        while self.made:
            try:
                self.made.pop().stop()
            except Exception as exc:  # the others must still stop
                errors.append(exc)
        if errors:
            raise errors[0]


def account_stats(sim: Simulator, label: str) -> dict[str, Any]:
    """The simulator's counters for one account (submits, in_progress, count_499, ...)."""
    return dict(sim.stats()["accounts"][label])
