"""The benchmark's scenarios (a)–(e), full size and `--quick` size."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

#: Run names, in table order.
DOCS = "docs-style"
ONE_NODE = "mj-worker 1 node"
TWO_NODES = "mj-worker 2 nodes"
ALL_RUNS = (DOCS, ONE_NODE, TWO_NODES)


@dataclass(frozen=True)
class Scenario:
    """One workload: `accounts × jobs_per_account` imagines on a simulator with these settings."""

    key: str
    title: str
    accounts: int = 1
    jobs_per_account: int = 100
    cap: int = 10
    fast_s: float = 2.0
    jitter: float = 0.0
    #: Another client holds `held` places of the (first) account for the first `held_s` s.
    held: int = 0
    held_s: float = 0.0
    runs: tuple[str, ...] = ALL_RUNS
    #: Extra environment for the mj-worker nodes (poll bounds for long jobs).
    env: dict[str, str] = field(default_factory=dict)
    note: str = ""

    @property
    def jobs(self) -> int:
        """All jobs of the scenario."""
        return self.accounts * self.jobs_per_account

    @property
    def docs_poll_s(self) -> float:
        """The docs-style sleep between fetches: 0.5 s for 2 s jobs, scaled to job length."""
        return round(0.25 * self.fast_s, 3)

    @property
    def docs_concurrency(self) -> int:
        """Processes of the docs-style worker: one per place TTAPI offers (accounts × cap)."""
        return self.accounts * self.cap

    @property
    def nominal_limit_s(self) -> float:
        """Limit for exact durations, no other client: ceil(jobs per account / cap) × fast."""
        return math.ceil(self.jobs_per_account / self.cap) * self.fast_s

    @property
    def timeout_s(self) -> float:
        """How long a run may take before it is given up: generous, but bounded."""
        return 120.0 + 6 * self.nominal_limit_s + 8 * self.held_s


SCENARIOS: dict[str, Scenario] = {
    s.key: s
    for s in (
        Scenario("a", "100 jobs, 1 account, exact 2 s"),
        Scenario("b", "100 jobs, 1 account, 2 s ±20 %", jitter=0.2),
        Scenario("c", "1,000-job burst, 4 accounts", accounts=4, jobs_per_account=250),
        Scenario(
            "d",
            "other client holds 7 of 10 slots for 8 s, 40 jobs",
            jobs_per_account=40,
            held=7,
            held_s=8.0,
        ),
        Scenario(
            "e",
            "100 accounts × 10 jobs of 20 s, one node",
            accounts=100,
            jobs_per_account=10,
            fast_s=20.0,
            runs=(ONE_NODE,),
            env={"MJ_POLL_MIN_S": "0.5", "MJ_POLL_MAX_S": "5"},
            note="docs-style not run: it would need one worker process per place (accounts × cap)",
        ),
    )
}


def quick(s: Scenario) -> Scenario:
    """A smaller version of `s` for a smoke test (same shape, fewer jobs or accounts)."""
    if s.key in ("a", "b"):
        return replace(s, jobs_per_account=30, title=s.title.replace("100", "30"))
    if s.key == "c":
        return replace(s, jobs_per_account=50, title="200-job burst, 4 accounts")
    if s.key == "d":
        return replace(s, jobs_per_account=20, title=s.title.replace("40 jobs", "20 jobs"))
    return replace(s, accounts=10, fast_s=5.0, title="10 accounts × 10 jobs of 5 s, one node")


def select(keys: list[str] | None, *, is_quick: bool = False) -> list[Scenario]:
    """The scenarios named by `keys` (all when None), in a–e order; ValueError on an unknown key."""
    wanted = keys or list(SCENARIOS)
    bad = [k for k in wanted if k not in SCENARIOS]
    if bad:
        raise ValueError(f"unknown scenario(s) {bad}; known: {', '.join(SCENARIOS)}")
    chosen = [SCENARIOS[k] for k in SCENARIOS if k in wanted]
    return [quick(s) for s in chosen] if is_quick else chosen
