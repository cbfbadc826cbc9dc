"""One backoff for every wait after a failure: fetches, 429 cooldowns, connections never made,
step errors and copies into the result store all double a base per failure in a row, each with
its own base, number of doublings and cap (`Timing.backoffs`, from the settings), so the
longest countdown any step schedules is derived, not listed (`Timing.longest_countdown`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class Retry(StrEnum):
    """What a job waits for after something went wrong; each backs off by `Timing.backoff`."""

    FETCH = "fetch"  # failed fetches in a row (429, 5xx, timeouts)
    COOLDOWN = "cooldown"  # 429s on submit in a row, without a Retry-After
    CONNECT = "connect"  # a submit whose connection was never made
    STEP = "step"  # an unexpected error in a job's step (its record owns it)
    STORE = "store"  # a copy into the result store that failed


@dataclass(frozen=True)
class Backoff:
    """`base_s` doubled once per try in a row, at most `doublings` times, never above `cap_s`."""

    base_s: float
    doublings: int
    cap_s: float = math.inf

    def after(self, tries: int) -> float:
        """The wait after `tries` tries in a row (0: the base)."""
        return min(self.cap_s, self.base_s * 2 ** min(max(tries, 0), self.doublings))

    @property
    def longest_s(self) -> float:
        """The longest wait it ever gives."""
        return self.after(self.doublings)


__all__ = ["Backoff", "Retry"]
