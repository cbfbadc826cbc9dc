"""What the in-process engine tests share: their two keys, the engine on a simulator, counters.

Each engine module keeps its own `sim` fixture (the simulator's cap is what differs):

    @pytest.fixture
    def sim(make_sim: SimFactory) -> Simulator:
        return make_sim(keys=[KEY_A, KEY_B], capacity=3, fast_s=FAST)

    @pytest.fixture
    def eng(sim: Simulator) -> InlineEngine:
        return build_engine(sim, capacity=3)
"""

from __future__ import annotations

from typing import Any

from config.settings import account_label
from tests.support.inline import InlineEngine
from tests.support.simulators import account_stats
from worker.devtools.simulator import Simulator

KEY_A, KEY_B = "sk-engine-aaaa-0001", "sk-engine-bbbb-0002"
LABEL_A, LABEL_B = account_label(KEY_A), account_label(KEY_B)
FAST = 0.5  # a fast imagine takes 0.5 s


def build_engine(
    sim: Simulator, *keys: str, capacity: int, fast_s: float = FAST, **overrides: Any
) -> InlineEngine:
    """An in-process engine (fakeredis, no Celery) on `sim` with `keys` (KEY_A alone if none)."""
    return InlineEngine.build(
        sim.url, list(keys or [KEY_A]), fast_s=fast_s, capacity=capacity, **overrides
    )


def account(sim: Simulator, label: str = LABEL_A) -> dict[str, Any]:
    """The simulator's counters for one account (submits, peak_in_progress, count_499, ...)."""
    return account_stats(sim, label)


def submits(sim: Simulator, label: str = LABEL_A) -> int:
    """How many jobs the simulator created for the account (each one paid)."""
    return int(account_stats(sim, label)["submits"])
