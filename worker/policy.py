"""The numbers that decide how hard mj-worker tries and how long what it keeps lives, in one place.

Each says why it has its value. What operators may change is a setting (`config.settings`);
durations derived from the settings are scaled by these in `jobs.timing.Timing`. Constructors
take their defaults from the settings (`config.settings.default`) or from here; nothing else
spells these numbers.
"""

from __future__ import annotations

# -- retries and give-ups -----------------------------------------------------------------
MAX_SUBMIT_ATTEMPTS = 3  # 5xx/network failures of one submit before the job fails
SUBMIT_RETRY_DOUBLINGS = (
    3  # retry n waits submit_retry_s × 2**n, n < MAX_SUBMIT_ATTEMPTS (timing.Retry)
)
MAX_FETCH_ERRORS = 8  # fetches in a row TTAPI answers 404/401/400 before the job is given up
COOLDOWN_DOUBLINGS = 6  # 429s in a row (no Retry-After) double the cooldown up to 2**6 = 64×
PROBE_FRACTION = 0.1  # after a 499, one probe above the learned cap per tenth of a job duration
PROBE_MAX_S = 30.0  # ...but at least one probe this often (relax jobs last minutes)
RETRY_AFTER_CAP_S = 60.0  # TTAPI's Retry-After is honoured up to this (or MJ_POLL_MAX_S)
# TTAPI dates its history by its own clock: our send, moved by the offset learned from its
# answers' Date headers, within this margin (whole-second dates, the round trip, its own
# stamping); with nothing learned yet, this far back (the claims keep one job to one record).
SKEW_MARGIN_S = 5.0
UNKNOWN_SKEW_S = 300.0
SKEW_TTL_S = 86400  # a learned offset is kept a day past the last submit that taught it
HISTORY_PAGES = 10  # fetch-list pages read back per reconcile look (100 rows each)
HISTORY_PAGE_SIZE = 100  # fetch-list's largest page
LOST_RESUBMITS_AT_LEAST = 2  # a submit lost and never created is sent again this often, late or not
HISTORY_FAILURES = 5  # fetch-list reads failing in a row (over a grace) before it counts as down
RECONCILE_LOOKS_PER_GRACE = 4  # history reads per reconcile grace: a lost submit is found soon
MAX_STEP_ERRORS = 5  # unexpected errors in a row before a job not yet sent fails clearly
STEP_ERROR_DOUBLINGS = 6  # a step's unexpected errors back off submit_retry_s × 2**n, n ≤ this
TRANSIENT_RESUBMITS = 1  # resubmits after a FAILED TTAPI calls worth one more try

# -- TTAPI's job timeouts (seconds): its defaults by mode, and the longest a job may ask for --
DEFAULT_TIMEOUT_S = 300
RELAX_TIMEOUT_S = 600
LONGEST_TIMEOUT_S = 1200

# -- when to poll (jobs.timing) ------------------------------------------------------------
# TTAPI's typical durations in seconds (fast ≲ 90 s, turbo ≲ 60 s, relax ≲ 10 min).
TYPICAL_S = {"fast": 60.0, "turbo": 40.0, "relax": 300.0}
EMA_WEIGHT = 0.3  # a finished job's weight in the learned duration: adapts within a few jobs
DURATIONS_CACHE_S = 5.0  # a learned duration moves a few percent per job: no read per fetch
POLL_ERROR_DOUBLINGS = 12  # failed fetches in a row back off min gap × 2**n, n ≤ this (clamped)
OVERDUE_SLOWDOWN = 0.25  # an overdue job is fetched min gap + this × its overrun apart
# A job's deadline is TTAPI's timeout (scaled) plus a grace: a minute (scaled), or two of the
# longest poll gaps, so TTAPI's own timeout answer is fetched before we give up.
DEADLINE_GRACE_S = 60.0
DEADLINE_GRACE_POLLS = 2
# How late a step may be before it counts as lost: a few of the longest poll gaps or two pump
# rounds (and never under 2 s), so a slow poll is not mistaken for a lost one.
STALL_POLLS = 4
STALL_PUMPS = 2
STALL_MIN_S = 2.0
# A slot lease outlives the longest poll gap, pump round and submit many times over, so only a
# dead job's slot ever lapses (it also outlives TTAPI's longest timeout plus the grace).
LEASE_MIN_POLLS = 8
LEASE_MIN_PUMPS = 4
LEASE_MIN_SUBMITS = 2
LEASE_RENEW_LEFT = 0.5  # the pump renews a live job's lease once half of it has run out
# Cooldown after a 429 and a submit retry's first wait: two of the shortest poll gaps (and at
# least these), so a simulated run with tiny gaps does not hammer TTAPI.
COOLDOWN_POLLS = 2
COOLDOWN_MIN_S = 0.05
SUBMIT_RETRY_POLLS = 2
SUBMIT_RETRY_MIN_S = 0.1
SWEEP_PUMPS = 12  # the pump looks at each open record every 12 rounds (a minute in production)
PUMP_TURN_PUMPS = 2  # a pump round holds its turn this many periods: a dead one frees it soon
# With webhooks, the safety-net poll waits at most this part of the visibility timeout, so
# Redis never redelivers its countdown message early.
HOOK_POLL_VISIBILITY_SHARE = 0.5

# -- engines (engine.ownership, engine.node, adapter.engine_step) -------------------------
ENGINE_BEATS_PER_LEASE = 3  # an engine renews its accounts three times per lease: one miss is ok
ENGINE_LEASE_MARGIN = 0.9  # an engine trusts its lease only for this part of it (clock drift)
ENGINE_GONE_LEASES = 3  # an engine silent this many leases is dropped from the live list
ENGINE_HINT_WAIT_S = 0.5  # the longest the hint thread blocks (it then re-reads held accounts)
ENGINE_HINT_READ_MARGIN_S = 5  # ...on a connection whose reads outlast that wait by this
ENGINE_IDLE_WAIT_S = 0.2  # an engine that holds no account looks again this often
ENGINE_RETRY_WAIT_S = 0.5  # after a failed read of hints (Redis away), the next try waits this
ENGINE_CHECK_S = 2.0  # how often a worker looks at its engine's process (restarts a dead one)
ENGINE_STOP_WAIT_S = 15.0  # how long a clean stop may take before the engine is killed
ENGINE_PARENT_CHECK_S = 1.0  # how often an engine checks that the worker that started it lives
ACCOUNT_CHOICE_FRESH_S = 0.5  # a process places new jobs from one reading of free slots this long

# -- callers: who gets a freed place (capacity.tenants, the guard's scripts) -------------------
# A tenant's slot-time counts half after ten minutes: an hour ago weighs 1/64, yesterday nothing.
SHARE_HALF_LIFE_S = 600.0
# On one account, a priority class with waiters is passed over at most this many grants in a
# row (then one goes to it): `low` gets at least one place in every PASS_OVER_MAX + 2.
PASS_OVER_MAX = 20
# ...and within a class, a tenant with waiters at most this many grants of its class in a row:
# weights up to about this ratio are served as they are, and no tenant waits for ever.
TENANT_PASS_OVER_MAX = 100
# Slot-time a grant is charged before any job of its tenant ended (then: the tenant's average
# time held, corrected to the real time when the slot is given back).
GRANT_ESTIMATE_S = 1.0
HELD_AVERAGE_WEIGHT = 0.125  # a slot given back moves its tenant's average time held this much
TENANT_BUCKETS_MAX = 999  # tenants MJ_TENANTS ever named (their numbers live in waiter scores)
STEAL_DONORS = 8  # accounts one steal looks at for a waiter to take (a random few of the set)

# -- what operators see (adapter.heartbeat, ops.liveness) -------------------------------------
# A worker's heartbeat: four per pump period, between 0.1 s and 5 s, so a killed worker shows
# as gone within about a pump period and a busy fleet does not write more than a few per second.
HEARTBEATS_PER_PUMP = 4
HEARTBEAT_MIN_S = 0.1
HEARTBEAT_MAX_S = 5.0
# The pump counts as late after three of its periods and a few seconds (a slow round is not).
PUMP_LATE_ROUNDS = 3
PUMP_LATE_GRACE_S = 5
# A scheduled run not started by its next one (at most an hour, at least a second) is dropped.
SCHEDULE_EXPIRES_MAX_S = 3600.0
SCHEDULE_EXPIRES_MIN_S = 1.0

# -- Celery and Redis ------------------------------------------------------------------------
TASK_TIME_LIMIT_S = 300  # a job *step* (never a whole job) is killed after this
TASK_SOFT_TIME_LIMIT_S = 240
REDIS_OUTAGE_S = 30.0  # how long one Redis call waits for a restarting server
REDIS_RETRY_BASE_S = 0.05  # ...backing off from this
REDIS_RETRY_CAP_S = 1.0  # ...to at most this between two tries
REDIS_CONNECT_TIMEOUT_S = 2.0  # a Redis that does not accept a connection within this is down
# A reply slower than this (plus what the command may block) means the connection is broken: a
# master gone without closing its sockets is left within seconds, not minutes (celery#6348).
REDIS_SOCKET_TIMEOUT_S = 10.0
# How long a submit waits for replicas to acknowledge its intent (`MJ_REDIS_WAIT_MS` unset):
# far above a healthy replica's lag (milliseconds), far below an engine's lease.
REDIS_WAIT_MS = 1000
# A note that submits are paused (too few replicas acknowledged) lasts this long unless a
# later wait falls short again: the operator's page clears itself once submits go on.
SUBMITS_PAUSED_NOTE_S = 10.0
# Broker and result backend: a connection is PINGed when idle this long, so a dead master is
# noticed by a consumer waiting on an idle queue too.
REDIS_HEALTH_CHECK_S = 10
REDIS_CLOCK_RESYNC_S = 10.0  # Redis's TIME is read again this often (local monotonic between)
# Publishing rides out a Redis restart (a few seconds: 30 tries, 0.2 s more each, 1 s at most)
# instead of failing the step.
PUBLISH_RETRY = {"max_retries": 30, "interval_start": 0, "interval_step": 0.2, "interval_max": 1.0}
# The HTTP API's POSTs ride out a short Redis restart too, but answer 503 (with Retry-After)
# after about 5 s: its Redis calls take 8 tries (0.05 s doubling to 1 s between), its
# publishes 8 tries (0.2 s more each, 1 s at most); a caller retries with its Idempotency-Key.
API_REDIS_RETRIES = 8
API_PUBLISH_RETRY = {
    "max_retries": 8,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 1.0,
}
REFRESH_ACCOUNTS_S = 300  # beat reads each account's /info (cap, balance) every five minutes
# A task argument this long, or a data URI this long, stays in the job record, not the message.
INLINE_ARG_MAX_CHARS = 65536
INLINE_DATA_URI_MAX_CHARS = 1024

# -- mj.download ---------------------------------------------------------------------------
DOWNLOAD_RETRIES = 5  # transient download failures before mj.download fails
DOWNLOAD_BACKOFF_S = 2  # ...retried after a jittered exponential backoff from this
DOWNLOAD_BACKOFF_MAX_S = 60  # ...of at most a minute: far below the visibility timeout
DOWNLOAD_READ_TIMEOUT_S = 60.0  # a CDN may stream a large image slowly

# -- what Redis keeps, and for how long (worker.keys names the keys) ---------------------
CLAIM_TTL_S = 86400  # a TTAPI job id → the record that owns it (TTAPI's longest job is 20 min)
REFUSALS_TTL_S = 3600  # an account's streak of 499/429 refusals in a row
COUNT_TTL_S = 3600  # one minute's counter of one status (`mjw status` reads the last minutes)
DISABLE_S = {401: 3600, 402: 600}  # how long an account stays out of rotation, by status
DISABLE_OTHER_S = 600  # ...for any other status: ten minutes, then it is tried again
RECENT_CAP, RECENT_FAILED_CAP = 1000, 500  # newest endings kept (`recent`, `recent_failed`)
TENANT_DAY_TTL_S = 2 * 86400  # a tenant's jobs started one UTC day (`daily_jobs`): a day more
# A slot grant's life when its caller names none (tests, read-only views); a Runtime passes
# `Timing.lease_s`, derived from the settings.
GUARD_LEASE_S = 150.0

# -- result storage (worker.storage, worker.jobs.storing) ----------------------------------
STORE_THREADS = 4  # copies one engine runs side by side: a slow store holds these, never a poll
STORE_RETRY_BASE_S = 0.5  # a failed copy is tried again after this, doubling...
STORE_RETRY_DOUBLINGS = 16  # (a copy's tries in a row double it at most this often)
STORE_RETRY_MAX_S = 30.0  # ...up to this between two tries, until MJ_STORAGE_RETRY_S has passed
STORE_PART_BYTES = 5 * 1024 * 1024  # a multipart upload's part (S3's smallest): a clip streams
STORE_PART_CONCURRENCY = 2  # parts of one file in flight at once (memory: parts × part size)
STORE_SPOOL_BYTES = 1024 * 1024  # an image kept for its thumbnail spills to disk past this
STORE_META_MAX_CHARS = 128  # an object's metadata value (ASCII): S3 allows about 2 KB in all
SIGV4_MAX_S = 7 * 86400  # the longest a SigV4 presigned link may live
THUMB_PX = 256  # a thumbnail's longest side
THUMB_QUALITY = 75  # WebP quality of a thumbnail (a few kB for 256 px)
