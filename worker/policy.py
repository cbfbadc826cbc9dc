"""The numbers that decide how hard mj-worker tries, in one place.

The engine, the start-up visibility check and the tests read these; nothing else spells them.
"""

from __future__ import annotations

MAX_SUBMIT_ATTEMPTS = 3  # 5xx/network failures of one submit before the job fails
SUBMIT_RETRY_DOUBLINGS = 3  # retry n waits submit_retry_s × 2**n, n < MAX_SUBMIT_ATTEMPTS
MAX_FETCH_ERRORS = 8  # fetches in a row TTAPI answers 404/401/400 before the job is given up
COOLDOWN_DOUBLINGS = 6  # 429s in a row (no Retry-After) double the cooldown up to 2**6 = 64×
PROBE_FRACTION = 0.1  # after a 499, one probe above the learned cap per tenth of a job duration
PROBE_MAX_S = 30.0  # ...but at least one probe this often (relax jobs last minutes)
RETRY_AFTER_CAP_S = 60.0  # TTAPI's Retry-After is honoured up to this (or MJ_POLL_MAX_S)
# Resubmits of a job whose submit answer was lost, ever: each only after TTAPI's history,
# readable for a whole grace, showed no such job (TTAPI's "retry 1–2 times" after a 500).
AMBIGUOUS_RESUBMITS = 2
HISTORY_PAGES = 10  # fetch-list pages read back per reconcile look (100 rows each)
HISTORY_PAGE_SIZE = 100  # fetch-list's largest page
HISTORY_FAILURES = 5  # fetch-list reads failing in a row (over a grace) before it counts as down
MAX_STEP_ERRORS = 5  # unexpected errors in a row before a job not yet sent fails clearly
TRANSIENT_RESUBMITS = 1  # resubmits after a FAILED TTAPI calls worth one more try

# TTAPI's job timeouts (seconds): its defaults by mode, and the longest a job may ask for.
DEFAULT_TIMEOUT_S = 300
RELAX_TIMEOUT_S = 600
LONGEST_TIMEOUT_S = 1200

TASK_TIME_LIMIT_S = 300  # a job *step* (never a whole job) is killed after this
TASK_SOFT_TIME_LIMIT_S = 240
REDIS_OUTAGE_S = 30.0  # how long one Redis call waits for a restarting server
