"""Per-key account state: balance, cap, token bucket, counters and the jobs it owns."""

from __future__ import annotations

from dataclasses import dataclass, field

from config.settings import account_label
from worker.devtools.simulator.jobs import Job

COUNTERS = (
    "submits",
    "requests",
    "count_400",
    "count_401",
    "count_402",
    "count_404",
    "count_429",
    "count_499",
    "count_500",
    "count_502",
    "count_504",
    "count_reset",
    "count_held",
    "fetches",
    "hook_attempts",
    "hook_failures",
)


class TokenBucket:
    """Classic token bucket: `rate` tokens a second, at most `burst` saved up."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = now

    def take(self, now: float) -> float:
        """Take one token: 0.0 on success, else the seconds until one is available."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate if self.rate > 0 else 3600.0


@dataclass(eq=False)
class Account:
    """One TTAPI key as the simulator sees it; only `label` ever leaves the simulator."""

    key: str = field(repr=False)
    label: str
    balance: float
    capacity: int
    bucket: TokenBucket = field(repr=False)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    peak: int = 0
    live: list[Job] = field(default_factory=list, repr=False)
    history: list[Job] = field(default_factory=list, repr=False)
    flaky_seen: set[str] = field(default_factory=set, repr=False)

    @classmethod
    def new(cls, key: str, balance: float, capacity: int, bucket: TokenBucket) -> Account:
        """An account for `key`, labelled the way the rest of the project labels it."""
        return cls(
            key=key, label=account_label(key), balance=balance, capacity=capacity, bucket=bucket
        )

    def count(self, name: str, n: int = 1) -> None:
        """Add `n` to counter `name`."""
        self.counts[name] += n

    def live_jobs(self, now: float) -> int:
        """This key's own jobs still in progress at `now` (finished ones are pruned)."""
        self.live = [job for job in self.live if job.live(now)]
        return len(self.live)

    def reset_counts(self, in_progress: int) -> None:
        """Zero the counters; the peak restarts from what is in progress now."""
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.peak = in_progress
