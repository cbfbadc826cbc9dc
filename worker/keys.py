"""Every Redis key mj-worker writes, in one place, with how long each lives.

`Keys(prefix)` names them all under one namespace (`MJ_KEY_PREFIX`, default `mj`), so two
deployments can share a Redis. Per-account keys carry the label in a `{hash tag}`, so a Redis
Cluster keeps one account's keys (the guard's scripts touch several at once) in one slot.
Celery's own keys (queues, `celery-task-meta-*`) are Celery's and not listed here.
"""

from __future__ import annotations

from dataclasses import dataclass

# How long each lives is policy (`worker.policy`: CLAIM_TTL_S, REFUSALS_TTL_S, COUNT_TTL_S,
# DISABLE_S, RECENT_CAP); job records, hook tokens, the TTAPI-id index and chains live
# MJ_RECORD_TTL_S (7 days).


@dataclass(frozen=True)
class Keys:
    """The key names of one namespace; every method returns one key."""

    prefix: str = "mj"

    # -- one per job ---------------------------------------------------------------------
    def job(self, job_id: str) -> str:
        """Hash: the job's record (state, account, TTAPI id, times, signature)."""
        return f"{self.prefix}:job:{job_id}"

    def claim(self, ttapi_job_id: str) -> str:
        """String: which of our records owns a TTAPI job (SET NX; CLAIM_TTL_S)."""
        return f"{self.prefix}:claim:{ttapi_job_id}"

    def hook(self, token: str) -> str:
        """String: the record a webhook token was issued for (record TTL)."""
        return f"{self.prefix}:hook:{token}"

    def ttjob(self, ttapi_job_id: str) -> str:
        """Hash: a finished TTAPI job's account, components, prompt, mode (record TTL)."""
        return f"{self.prefix}:ttjob:{ttapi_job_id}"

    def delivery(self, job_id: str) -> str:
        """String (PX): one run is reporting this ended job now (see `worker.jobs.delivery`)."""
        return f"{self.prefix}:delivery:{job_id}"

    def chain(self, task_id: str) -> str:
        """String: the task ids of a pipeline `mjw submit` sent, for `mjw wait` (result TTL)."""
        return f"{self.prefix}:chain:{task_id}"

    # -- fleet-wide ----------------------------------------------------------------------
    @property
    def active(self) -> str:
        """Sorted set: records not ended (`job` keys), scored by the pump's next look."""
        return f"{self.prefix}:active"

    @property
    def pump_turn(self) -> str:
        """Lock (PX, a token): a pump round is under way; another started meanwhile skips."""
        return f"{self.prefix}:pump:turn"

    @property
    def undelivered(self) -> str:
        """Sorted set: ended jobs whose outcome Celery has not stored yet (the pump resends)."""
        return f"{self.prefix}:undelivered"

    @property
    def engines(self) -> str:
        """Sorted set: engine tokens (`node|random`) scored by their last heartbeat (Redis s)."""
        return f"{self.prefix}:engines"

    @property
    def labels(self) -> str:
        """Hash: account label → when a process configured with it last started."""
        return f"{self.prefix}:labels"

    @property
    def round_robin(self) -> str:
        """Counter: whose turn it is among accounts with equally many free slots."""
        return f"{self.prefix}:rr"

    # -- callers: tenants and the pool (worker.capacity.tenants, worker.capacity.guard) ---------
    @property
    def pool(self) -> list[str]:
        """The guard's fleet-wide keys, in the order its scripts expect after an account's:
        `[tenants:usage, tenants:busy, lines, roomy, tenants:blocked]`.

        `tenants:usage` (hash): per tenant bucket, its decaying slot-time (`u<n>`, as of `t<n>`)
        and its average time held (`a<n>`; `a` over all); `tenants:busy` (hash): its jobs
        holding a slot, counted from the leases that know their bucket; `lines` (set): the
        accounts whose line holds a job another account may take; `roomy` (set): the accounts
        with a place nobody in their own line waits for; `tenants:blocked` (set): the accounts
        whose waiters wait only for their tenant's `max_in_progress`.
        """
        names = ["tenants:usage", "tenants:busy", "lines", "roomy", "tenants:blocked"]
        return [f"{self.prefix}:{name}" for name in names]

    @property
    def tenant_index(self) -> str:
        """Hash: tenant bucket name → its small number in waiter scores (`~next`: the last)."""
        return f"{self.prefix}:tenants:index"

    def tenant_day(self, bucket: str, day: str) -> str:
        """Set (TENANT_DAY_TTL_S): the jobs a tenant bucket started on one UTC day (`YYYYMMDD`),
        each once: what `daily_jobs` counts."""
        return f"{self.prefix}:tenants:day:{day}:{bucket}"

    @property
    def tenant_outcomes(self) -> str:
        """Hash: jobs ended per tenant bucket and outcome, `bucket:outcome`
        (mj_tenant_jobs_total)."""
        return f"{self.prefix}:metrics:tenants"

    @property
    def outcomes(self) -> str:
        """Hash: jobs ended, by outcome (mj_jobs_total)."""
        return f"{self.prefix}:metrics:jobs"

    @property
    def durations(self) -> str:
        """Hash: job duration histogram buckets and sums, by mode (mj_job_duration_seconds)."""
        return f"{self.prefix}:metrics:durations"

    # -- one per account (hash-tagged) ----------------------------------------------------
    def account(self, label: str) -> str:
        """The `prefix:{label}` base of an account's keys; rejects labels that break the tag."""
        if not label or "{" in label or "}" in label:
            raise ValueError(f"invalid account label {label!r}")
        return f"{self.prefix}:{{{label}}}"

    def guard(self, label: str) -> list[str]:
        """The guard's `[slots, waiters, seq, cap, cool, occ]`, in the order its scripts expect.

        `occ` (a hash, PX TTL = a job's expected duration) is the occupancy a 499 taught: the
        effective cap and when the next probe may go; see `worker.capacity.lua`.
        """
        base = self.account(label)
        names = ["slots", "waiters", "seq", "cap", "cool", "occ"]
        return [f"{base}:{name}" for name in names]

    def guard_lines(self, label: str) -> list[str]:
        """The guard's per-account keys of callers, after `guard(label)` in script order:
        `[loose, tally, held]`.

        `loose` (sorted set, the waiters' scores): the waiters another account may take (not
        pinned, not a follow-up); `tally` (hash): waiters per `rank:bucket`, and `s<rank>`, how
        often in a row that rank was passed over; `held` (hash): each holder's
        `bucket|rank|loose|granted ms|ms charged`.
        """
        base = self.account(label)
        return [f"{base}:{name}" for name in ("loose", "tally", "held")]

    def slots(self, label: str) -> str:
        """Sorted set: the guard's slot holders, scored by lease deadline (`guard(label)[0]`)."""
        return self.guard(label)[0]

    def waiters(self, label: str) -> str:
        """Sorted set: the guard's queue, scored by class and arrival (`guard(label)[1]`)."""
        return self.guard(label)[1]

    def wake(self, label: str) -> str:
        """List: hints for the engine that holds the account (`fill`, `submit|job`,
        `poll|job|seq|due_ms`); see `worker.jobs.hints`."""
        return f"{self.account(label)}:wake"

    def owner(self, label: str) -> str:
        """String (PX): the engine lease on the account, the holding node's token."""
        return f"{self.account(label)}:owner"

    def info(self, label: str) -> str:
        """Hash: the account's last `/info` (balance, max_queue, at)."""
        return f"{self.account(label)}:info"

    def disabled(self, label: str) -> str:
        """String: why the account is out of rotation (DISABLE_S by status)."""
        return f"{self.account(label)}:disabled"

    def polls(self, label: str) -> str:
        """Sorted set: the account's due polls (`job_id|seq`, scored by due ms), as the version
        before the engine kept them; `worker.engine.upgrade` hands them on once."""
        return f"{self.account(label)}:polls"

    def tick(self, label: str) -> str:
        """String (PX): due ms of the account's poll tick (the version before the engine)."""
        return f"{self.account(label)}:tick"

    def refusals(self, label: str) -> str:
        """Counter: 429 refusals in a row (REFUSALS_TTL_S); doubles the cooldown."""
        return f"{self.account(label)}:refusals"

    def learned(self, label: str) -> str:
        """Hash: learned job durations by kind and mode (when to poll: `jobs/timing.py`)."""
        return f"{self.account(label)}:durations"

    def skew(self, label: str) -> str:
        """String: TTAPI's clock minus Redis's, seconds, learned from accepted submits."""
        return f"{self.account(label)}:skew"

    def responses(self, label: str) -> str:
        """Hash: all-time TTAPI answers by HTTP status (mj_ttapi_responses_total)."""
        return f"{self.account(label)}:responses"

    def count(self, label: str, status: int, minute: int) -> str:
        """Counter: answers of one status in one minute (COUNT_TTL_S)."""
        return f"{self.account(label)}:count:{status}:{minute}"

    # -- operations: read by the operator page, `mjw jobs` and liveness (ops) ----------------
    @property
    def recent(self) -> str:
        """Sorted set: ids of jobs that ended, scored by when (the RECENT_CAP newest)."""
        return f"{self.prefix}:recent"

    @property
    def recent_failed(self) -> str:
        """Sorted set: ids of jobs that ended FAILED or REVOKED, by when (RECENT_FAILED_CAP)."""
        return f"{self.prefix}:recent:failed"

    @property
    def pump_last(self) -> str:
        """String: when the pump last ran a round (epoch seconds, Redis time)."""
        return f"{self.prefix}:pump:last"

    @property
    def submits_paused(self) -> str:
        """String (PX, JSON: since, acked, wanted, wait_ms): submits wait because too few
        replicas acknowledged a submit's intent (`worker.jobs.durable`)."""
        return f"{self.prefix}:submits:paused"

    @property
    def workers(self) -> str:
        """Hash: worker hostname → its heartbeat (JSON: queues, at, since); see ops.heartbeat."""
        return f"{self.prefix}:workers"

    # -- result storage (worker.storage) -------------------------------------------------
    @property
    def storing(self) -> str:
        """Sorted set: jobs whose files are being copied to the store, scored by when the pump
        should next look for one whose copier died (see `worker.jobs.storing`)."""
        return f"{self.prefix}:storing"

    def store_claim(self, job_id: str) -> str:
        """String (PX, a token): one engine copies this job's files now, renewed while it runs."""
        return f"{self.prefix}:store:{job_id}"

    @property
    def storage_failures(self) -> str:
        """Counter: results delivered with `stored: null` (mj_storage_failures_total)."""
        return f"{self.prefix}:metrics:storage_failures"

    # -- the HTTP API (worker.api): tokens, jobs, idempotency keys, callbacks -------------------
    @property
    def api_tokens(self) -> str:
        """Hash: token id → the token as JSON (tenant, name, SHA-256 of the token, webhook
        secret, created, revoked); see `worker.api.tokens`."""
        return f"{self.prefix}:api:tokens"

    def api_token(self, digest: str) -> str:
        """String: SHA-256 of a token → its id (the token itself is never stored)."""
        return f"{self.prefix}:api:token:{digest}"

    def api_job(self, job_id: str) -> str:
        """Hash: one job the HTTP API made (tenant, steps, callback, metadata; record TTL)."""
        return f"{self.prefix}:api:job:{job_id}"

    def api_jobs(self, tenant: str) -> str:
        """Sorted set: a tenant's API jobs by creation time (ms), newest last."""
        return f"{self.prefix}:api:jobs:{tenant}"

    def api_idem(self, tenant: str, key_digest: str) -> str:
        """Hash: an `Idempotency-Key` of a tenant (24 h): request digest, job id, state."""
        return f"{self.prefix}:api:idem:{tenant}:{key_digest}"

    @property
    def api_callbacks(self) -> str:
        """Sorted set: API jobs with a callback still owed, scored by their next look (s)."""
        return f"{self.prefix}:api:callbacks"

    def api_callback_lock(self, job_id: str) -> str:
        """String (PX): one `mjw web` process is sending this job's callback now."""
        return f"{self.prefix}:api:callback:{job_id}"


KEYS = Keys()
"""The default namespace (`mj`), for code that is handed no `Keys`."""
