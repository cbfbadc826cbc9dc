"""When to poll a job, and when to give up on it: every duration the engine schedules by.

- `next_gap` within `PollBounds` (`MJ_POLL_MIN_S`..`MJ_POLL_MAX_S`): rarely early, promptly near
  the job's expected end. The expected duration is what this account's jobs of the same kind
  and mode actually took (`Durations`: an exponential moving average kept in Redis), else
  TTAPI's typical duration for the mode scaled by `MJ_TIME_SCALE`; once TTAPI reports
  `progress`, the rate between two fetches predicts the end. `poll_gap` applies it to a record
  (with webhooks on, polling is a slow safety net instead).
- `Timing`: every other duration, derived once from the settings: slot leases, cooldowns, the
  reconcile grace, a job's deadline (`deadline`, from TTAPI's own timeout, `timeout_s`), how
  late a step may be before it counts as lost (`stall_s`: also how often the engine scans the
  accounts it holds), how often the pump sweeps the records, how often an engine beats.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from config.settings import Settings, default
from worker import policy as p
from worker.jobs.backoff import Backoff, Retry
from worker.jobs.record import JobRecord
from worker.keys import KEYS, Keys
from worker.ttapi.kinds import factor_of
from worker.ttapi.requests import mode_of


@dataclass(frozen=True)
class PollBounds:
    """`MJ_POLL_MIN_S`..`MJ_POLL_MAX_S`: the shortest and longest gap between two fetches."""

    min_s: float
    max_s: float

    def clamp(self, gap: float) -> float:
        """The gap forced into the bounds."""
        return max(self.min_s, min(self.max_s, gap))


def next_gap(
    bounds: PollBounds,
    *,
    elapsed: float,
    expected: float,
    progress: int = 0,
    last_progress: int = 0,
    since_last_progress: float = 0.0,
    errors: int = 0,
) -> float:
    """Seconds until the next fetch of a job that is `elapsed` seconds old and not finished.

    `errors` consecutive failed fetches (429/5xx/timeouts) back off exponentially instead.
    """
    if errors > 0:
        return bounds.clamp(fetch_backoff(bounds).after(errors))
    if 0 < progress < 100:
        if 0 < last_progress < progress and since_last_progress > 0:
            rate = (progress - last_progress) / since_last_progress
        else:
            rate = progress / max(elapsed, 1e-6)
        remaining = (100 - progress) / rate
    else:
        remaining = expected - elapsed
    if remaining <= 0:
        # Later than expected: look again soon, but less often the longer it overruns.
        overdue = -remaining
        return bounds.clamp(bounds.min_s + p.OVERDUE_SLOWDOWN * overdue)
    # Aim at the predicted end; never sleep past it by more than the granularity of `max_s`.
    return bounds.clamp(remaining)


class Durations:
    """Learned job durations per account, mode and kind, shared by every worker via Redis.

    Each process keeps what it read for `CACHE_S`: every poll asks, and an average that moves
    by a few percent per finished job need not cost a Redis read per fetch.
    """

    CACHE_S = p.DURATIONS_CACHE_S

    def __init__(
        self,
        client: redis.Redis,
        *,
        time_scale: float = default("mj_time_scale"),
        keys: Keys = KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = client
        self.time_scale = time_scale
        self._key = keys.learned
        self._clock = clock
        self._seen: dict[tuple[str, str], tuple[float, float | None]] = {}

    def _read(self, label: str, fld: str) -> float | None:
        """The stored average (None: nothing learned yet), from this process's cache if fresh."""
        now = self._clock()
        hit = self._seen.get((label, fld))
        if hit is not None and now - hit[0] < self.CACHE_S:
            return hit[1]
        raw = self.redis.hget(self._key(label), fld)
        value = float(raw) if raw else None
        self._seen[(label, fld)] = (now, value)
        return value

    @staticmethod
    def _field(mode: str, kind: str) -> str:
        return f"{kind}:{mode}"

    def expected(self, label: str, mode: str, kind: str) -> float:
        """The expected duration in seconds: learned if any job finished, else typical × scale."""
        learned = self._read(label, self._field(mode, kind))
        if learned:
            return learned
        base = p.TYPICAL_S.get(mode, p.TYPICAL_S["fast"]) * factor_of(kind)
        return base * self.time_scale

    def learn(
        self, label: str, mode: str, kind: str, took_s: float, client: redis.Redis | None = None
    ) -> None:
        """Fold one finished job's duration into the moving average (written through `client`,
        e.g. a pipeline the caller sends, else at once)."""
        if took_s <= 0:
            return
        fld = self._field(mode, kind)
        old = self._read(label, fld)
        new = took_s if not old else (1 - p.EMA_WEIGHT) * old + p.EMA_WEIGHT * took_s
        (client or self.redis).hset(self._key(label), fld, f"{new:.4f}")
        self._seen[(label, fld)] = (self._clock(), new)


def fetch_backoff(bounds: PollBounds) -> Backoff:
    """Failed fetches in a row: from the shortest poll gap, doubling up to the longest."""
    return Backoff(bounds.min_s, p.POLL_ERROR_DOUBLINGS, bounds.max_s)


@dataclass(frozen=True)
class Timing:
    """Every duration derived from the settings, in seconds."""

    bounds: PollBounds
    lease_s: float
    cooldown_s: float
    reconcile_grace_s: float
    deadline_grace_s: float
    time_scale: float
    submit_retry_s: float
    pump_interval_s: float
    stall_s: float
    sweep_s: float
    submit_limit_s: float
    hook_poll_s: float | None
    engine_lease_s: float
    engine_beat_s: float

    @classmethod
    def from_settings(cls, s: Settings) -> Timing:
        """Scale every duration from the poll bounds and `MJ_TIME_SCALE`."""
        deadline_grace_s = max(
            p.DEADLINE_GRACE_S * s.mj_time_scale, p.DEADLINE_GRACE_POLLS * s.mj_poll_max_s
        )
        submit_limit_s = s.mj_http_connect_timeout_s + s.mj_http_read_timeout_s
        # How late a step may be before the pump treats it as lost.
        stall_s = max(
            p.STALL_POLLS * s.mj_poll_max_s, p.STALL_PUMPS * s.mj_pump_interval_s, p.STALL_MIN_S
        )
        return cls(
            bounds=PollBounds(s.mj_poll_min_s, s.mj_poll_max_s),
            # A lease outlives anything TTAPI may still be running: its longest timeout (1200 s,
            # scaled) plus grace. So a lapse never frees a slot of a live job, even if every
            # worker and the pump were down meanwhile; polls and the pump renew it all along.
            lease_s=max(
                p.LONGEST_TIMEOUT_S * s.mj_time_scale + deadline_grace_s,
                p.LEASE_MIN_POLLS * s.mj_poll_max_s,
                p.LEASE_MIN_PUMPS * s.mj_pump_interval_s,
                p.LEASE_MIN_SUBMITS * submit_limit_s,
            ),
            cooldown_s=max(p.COOLDOWN_POLLS * s.mj_poll_min_s, p.COOLDOWN_MIN_S),
            reconcile_grace_s=s.mj_reconcile_grace_s,
            deadline_grace_s=deadline_grace_s,
            time_scale=s.mj_time_scale,
            submit_retry_s=max(p.SUBMIT_RETRY_POLLS * s.mj_poll_min_s, p.SUBMIT_RETRY_MIN_S),
            pump_interval_s=s.mj_pump_interval_s,
            stall_s=stall_s,
            # How often the pump looks at each open record (a minute in production): the sweep
            # only finds what every other repair missed, so it need not cost a read per job
            # per round.
            sweep_s=max(stall_s, p.SWEEP_PUMPS * s.mj_pump_interval_s),
            submit_limit_s=submit_limit_s,
            # The webhook ends the job; polling only catches a callback that never came.
            hook_poll_s=(
                min(
                    s.mj_hook_safety_poll_s,
                    s.mj_visibility_timeout_s * p.HOOK_POLL_VISIBILITY_SHARE,
                )
                if s.mj_hook_base_url
                else None
            ),
            engine_lease_s=s.mj_engine_lease_s,
            engine_beat_s=s.mj_engine_lease_s / p.ENGINE_BEATS_PER_LEASE,
        )

    def retry_after(self, value: float | None) -> float:
        """TTAPI's `Retry-After`, bounded: never past 60 s (or the longest poll gap, if longer)."""
        if not value or value <= 0:
            return 0.0
        return min(float(value), max(self.bounds.max_s, p.RETRY_AFTER_CAP_S))

    @property
    def backoffs(self) -> dict[Retry, Backoff]:
        """How each kind of retry backs off: the one table every wait after a failure uses."""
        return {
            Retry.FETCH: fetch_backoff(self.bounds),
            Retry.COOLDOWN: Backoff(self.cooldown_s, p.COOLDOWN_DOUBLINGS),
            Retry.CONNECT: Backoff(self.submit_retry_s, p.SUBMIT_RETRY_DOUBLINGS),
            Retry.STEP: Backoff(self.submit_retry_s, p.STEP_ERROR_DOUBLINGS),
            Retry.STORE: Backoff(
                p.STORE_RETRY_BASE_S, p.STORE_RETRY_DOUBLINGS, p.STORE_RETRY_MAX_S
            ),
        }

    def backoff(self, retry: Retry, tries: int) -> float:
        """Seconds to wait after `tries` failures of kind `retry` in a row (0: the first)."""
        return self.backoffs[retry].after(tries)

    def longest_countdown(self) -> float:
        """The longest countdown any step schedules (must stay below the visibility timeout):
        the longest poll gap, grace, pump period or Retry-After, and every backoff's longest."""
        return max(
            self.bounds.max_s,
            self.reconcile_grace_s,
            self.pump_interval_s,
            p.RETRY_AFTER_CAP_S,
            *(b.longest_s for b in self.backoffs.values()),
        )

    def deadline(self, rec: JobRecord, start: float) -> float:
        """When to give up on a job TTAPI started at `start`: its timeout, scaled, plus a grace."""
        return start + timeout_s(rec) * self.time_scale + self.deadline_grace_s


def timeout_s(rec: JobRecord) -> int:
    """TTAPI's timeout of the job: its own, else TTAPI's default for its (or its parent's) mode."""
    mode = mode_of(rec.params, rec.parent)
    fallback = p.RELAX_TIMEOUT_S if mode == "relax" else p.DEFAULT_TIMEOUT_S
    return int(rec.params.get("timeout") or fallback)


def poll_gap(
    timing: Timing, durations: Durations, rec: JobRecord, now: float, *, errors_in_row: int = 0
) -> float:
    """Seconds until the next fetch of a submitted job, as the polling policy chooses."""
    if timing.hook_poll_s is not None and errors_in_row == 0:
        return timing.hook_poll_s
    return next_gap(
        timing.bounds,
        elapsed=now - rec.submitted_at_ts if rec.submitted_at_ts else 0.0,
        expected=durations.expected(rec.account, mode_of(rec.params, rec.parent), rec.kind),
        progress=rec.progress,
        last_progress=rec.prev_progress,
        since_last_progress=(
            rec.last_progress_at - rec.prev_progress_at if rec.prev_progress_at else 0.0
        ),
        errors=errors_in_row,
    )


__all__ = [
    "Durations",
    "PollBounds",
    "Timing",
    "fetch_backoff",
    "next_gap",
    "poll_gap",
    "timeout_s",
]
