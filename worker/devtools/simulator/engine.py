"""The simulator's state (accounts, jobs, faults, RNG) behind one lock, and its job factory."""

from __future__ import annotations

import math
import random
import threading
import time
import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Any

import requests

from config.settings import account_label
from worker.devtools.simulator import latency, media, rules
from worker.devtools.simulator.accounts import Account, TokenBucket
from worker.devtools.simulator.config import Faults, SimConfig
from worker.devtools.simulator.hooks import Scheduler
from worker.devtools.simulator.jobs import Job, hook_body
from worker.devtools.simulator.media_bodies import fetch_body
from worker.devtools.simulator.validation import JobSpec

HOOK_TRIES = 3


class Engine:
    """Everything mutable; callers hold `lock` around every method except the hook worker."""

    def __init__(self, config: SimConfig, scheduler: Scheduler) -> None:
        self.config = config
        self.faults = Faults().updated(**config.faults.to_dict())
        self.lock = threading.RLock()
        self.rng = random.Random(config.seed)
        # Round trips draw from their own RNG, so latency leaves durations and faults as seeded.
        self.latency_rng = random.Random(config.seed + 1)
        self.t0 = time.monotonic()
        self.scheduler = scheduler
        self.base_url = ""
        self.count_401 = 0
        self.accounts: dict[str, Account] = {}
        self.jobs: dict[str, Job] = {}
        for key in config.keys:
            self.account(key)

    def now(self) -> float:
        """The simulator's clock (monotonic seconds)."""
        return time.monotonic()

    def wall(self) -> datetime:
        """TTAPI's wall clock (UTC), off the true time by `Faults.clock_offset_s`."""
        return datetime.fromtimestamp(time.time() + self.faults.clock_offset_s, UTC)

    def round_trip(self, endpoint: str) -> float:
        """The round trip one request to `endpoint` takes now (seconds, jittered)."""
        return latency.round_trip(self.faults, endpoint, self.latency_rng)

    def account(self, key: str) -> Account:
        """The account of `key`, created with the configured defaults if new."""
        if key not in self.accounts:
            cfg = self.config
            bucket = TokenBucket(cfg.rate_per_s, cfg.burst, self.now())
            self.accounts[key] = Account.new(key, cfg.balance, cfg.capacity, bucket)
        return self.accounts[key]

    def in_progress(self, acct: Account, now: float) -> int:
        """Places taken on the account: its live jobs plus those of 'another client'."""
        return acct.live_jobs(now) + self.faults.other_client.get(acct.label, 0)

    def find_job(self, acct: Account, job_id: str) -> Job | None:
        """The job `job_id` if it belongs to `acct` (another key's job is 'not found')."""
        job = self.jobs.get(job_id)
        return job if job is not None and job.key == acct.key else None

    def create(
        self,
        acct: Account,
        spec: JobSpec,
        mode: str,
        cost: float,
        now: float,
        requested: float | None = None,
    ) -> Job:
        """Create a job whose whole fate (duration, outcome) is decided now; schedule its hook.

        `requested`: when its submit reached the simulator (before `now` with latency).
        """
        cfg = self.config
        duration = cfg.fast_s * rules.MODE_SPEED[mode] * rules.duration_factor(spec.action)
        if cfg.jitter > 0:
            duration *= max(0.05, 1.0 + self.rng.uniform(-cfg.jitter, cfg.jitter))
        timeout_s = (spec.timeout or (600 if mode == "relax" else 300)) * cfg.time_scale
        job_id = str(uuid.uuid4())
        prompt = rules.describe_prompts(job_id) if spec.action == "describe" else spec.prompt
        end, failure = self._fate(acct, prompt, now, duration, timeout_s)
        if rules.has_word(prompt, rules.OVERTIME_WORD):
            duration = max(duration, 2 * timeout_s)
        width, height = media.size(spec.action, prompt, spec.dimensions, spec.media)
        job = Job(
            job_id=job_id,
            key=acct.key,
            label=acct.label,
            action=spec.action,
            mode=mode,
            prompt=prompt,
            parent=spec.parent.job_id if spec.parent else None,
            hook_url=spec.hook_url,
            created_at=self.wall().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            submitted=now,
            duration=duration,
            end=end,
            failure=failure,
            components=rules.components_for(spec.action, self._root_prompt(spec.parent, prompt)),
            seed=str(self.rng.randrange(10**9, 2**32)) if spec.action == "seed" else None,
            width=width,
            height=height,
            quota=f"{cost:g}",
            requested=now if requested is None else requested,
            media=spec.media,
        )
        acct.balance -= cost
        acct.count("submits")
        acct.live.append(job)
        acct.history.append(job)
        self.jobs[job_id] = job
        acct.peak = max(acct.peak, self.in_progress(acct, now))
        if job.hook_url and not job.stuck:
            self.scheduler.schedule(job.end, partial(self._hook_attempt, job_id, 1))
        return job

    def _root_prompt(self, parent: Job | None, prompt: str) -> str:
        """The prompt of the imagine (or blend/describe) a chain of actions started from."""
        while parent is not None and parent.parent is not None:
            parent = self.jobs[parent.parent]
        return parent.prompt if parent is not None else prompt

    def _fate(
        self, acct: Account, prompt: str, now: float, duration: float, timeout_s: float
    ) -> tuple[float, str | None]:
        """When the job ends and its failure message (None means SUCCESS)."""
        if any(rules.has_word(prompt, word) for word in self.faults.stuck_words):
            return math.inf, None
        if (message := rules.failure_for(prompt)) is not None:
            return now + 0.1 * duration, message
        if rules.has_word(prompt, rules.OVERTIME_WORD) or duration > timeout_s:
            return now + timeout_s, rules.JOB_TIMEOUT
        if rules.has_word(prompt, rules.FLAKY_WORD) and prompt not in acct.flaky_seen:
            acct.flaky_seen.add(prompt)
            return now + duration, rules.JOB_TIMEOUT
        return now + duration, None

    def finish_stuck(self) -> int:
        """End every stuck job now with SUCCESS (firing its hook); returns how many."""
        now = self.now()
        stuck = [job for job in self.jobs.values() if job.stuck]
        for job in stuck:
            job.end = now
            if job.hook_url:
                self.scheduler.schedule(now, partial(self._hook_attempt, job.job_id, 1))
        return len(stuck)

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """Apply a partial Faults update (ValueError names a bad field); returns all faults."""
        self.faults = self.faults.updated(**changes)
        return self.faults.to_dict()

    def set_account(
        self,
        key: str,
        balance: float | None = None,
        capacity: int | None = None,
        other_client: int | None = None,
    ) -> dict[str, Any]:
        """Change (or add) an account; returns its public view (label, never the key)."""
        acct = self.account(key)
        if balance is not None:
            acct.balance = float(balance)
        if capacity is not None:
            acct.capacity = int(capacity)
        if other_client is not None:
            self.faults.other_client = {**self.faults.other_client, acct.label: int(other_client)}
        return {
            "label": account_label(key),
            "balance": acct.balance,
            "capacity": acct.capacity,
            "other_client": self.faults.other_client.get(acct.label, 0),
            "in_progress": self.in_progress(acct, self.now()),
        }

    def rotate_key(self, old: str, new: str, *, keep_old: bool = False) -> None:
        """Give the account of `old` a new key `new` (TTAPI's "reset key"): both open the same
        account, its jobs and its cap; the old key stops working unless `keep_old`."""
        acct = self.account(old)
        self.accounts[new] = acct
        if not keep_old:
            del self.accounts[old]

    def reset_stats(self) -> None:
        """Zero every counter and hide existing jobs from the stats (they still run)."""
        now = self.now()
        self.count_401 = 0
        for acct in self.accounts.values():
            acct.reset_counts(self.in_progress(acct, now))
        for job in self.jobs.values():
            job.in_stats = False

    def _hook_attempt(self, job_id: str, attempt: int) -> None:
        """One try at delivering a job's callback; failed tries are retried up to HOOK_TRIES."""
        with self.lock:
            job = self.jobs[job_id]
            acct = self.accounts[job.key]
            at = max(self.now(), job.end)
            body = hook_body(fetch_body(job, at, self.base_url, self.faults.video_list_key))
            rate = self.faults.drop_callback_rate
            dropped = rate > 0 and self.rng.random() < rate
            job.hook_attempts += 1
            acct.count("hook_attempts")
        delivered = not dropped and _post(job.hook_url, body)
        with self.lock:
            if delivered:
                job.hook_delivered = True
                return
            acct.count("hook_failures")
        if attempt < HOOK_TRIES:
            retry = partial(self._hook_attempt, job_id, attempt + 1)
            self.scheduler.schedule(self.now() + self.config.hook_retry_delay_s, retry)


def _post(url: str, body: dict[str, Any]) -> bool:
    """POST the callback; only HTTP 200 counts as delivered."""
    try:
        return requests.post(url, json=body, timeout=(2.0, 5.0)).status_code == 200
    except requests.RequestException:
        return False
