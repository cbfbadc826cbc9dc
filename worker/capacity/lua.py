"""Lua scripts of :mod:`worker.capacity.guard`: every change of the slot guard is one script.

Each is the prelude (``worker/lua/capacity/guard/prelude.lua``: the clock, the cap, leases,
FIFO, occupancy) followed by its own file beside it, composed here. All read the clock with
``redis.call('TIME')`` so that workers on machines with skewed clocks still agree on lease
deadlines.  Scripts that take the whole key set expect, in order:
``KEYS = {slots, waiters, seq, cap, cool, occ}`` of one account (one ``{label}`` hash tag).
Scores of waiters are class * CLASS_SPAN + sequence, so FIFO holds within a class and lower
classes go first.

*Occupancy* is what a 499 teaches: another client runs jobs on the same key, so TTAPI lets us
run only the slots we held when it refused. The ``occ`` hash (``KEYS[6]``, PX TTL = lapse)
keeps that *effective cap* (``cap``), the probe gap (``gap`` ms), when the next probe may go
(``next`` ms) and the outstanding probe's job id (``probe``). Grants stop at
``min(cap, effective cap)``; one *probe* above it goes out at most every ``gap``: a probe that
TTAPI accepts raises the effective cap by one, a 499 on it learns the same cap again. Without a
499 for the TTL, the hash lapses and the full cap applies again.
"""

from worker.lua import script

_PRELUDE = "capacity/guard/prelude.lua"

# ARGV: job_id, priority, lease_ms, default_cap.
# Returns {granted, queued, cooldown_ms, position (1 = next; 0 unless queued), woken ids...}.
ACQUIRE = script(_PRELUDE, "capacity/guard/acquire.lua")

# KEYS: the account's six, then wake.  ARGV: job_id, priority, default_cap.  Queues the job (it
# keeps its place if queued already) unless it holds a slot; when a fill could hand a slot out
# now, hints the account's engine (once: a non-empty wake list is a hint already).
# Returns {holds (1/0), place (1 = next, once the free slots went to those ahead; 0 when it
# holds a slot), 1 if a free slot is there for it now}.
ENQUEUE = script(_PRELUDE, "capacity/guard/enqueue.lua")

# KEYS: slots, occ.  ARGV: job_id, lease_ms, confirms (1/0).  Returns 1 if the job held a live
# lease (now extended).  A confirming renew (the submit was accepted) of the outstanding probe
# raises the effective cap by one and lets the next probe go at once.
RENEW = script(_PRELUDE, "capacity/guard/renew.lua")

# KEYS: occ, refusals.  ARGV: job_id.  TTAPI accepted the job: a 429 streak ends, and if the job
# was the probe above the effective cap, the cap rises by one and the next probe may go at once.
# Returns 1 when it was the probe.
ACCEPTED = script(_PRELUDE, "capacity/guard/accepted.lua")

# ARGV: job_id, lease_ms, default_cap.  Returns woken ids.  A probe released before TTAPI
# accepted it (failed otherwise, revoked) taught nothing: it is simply no longer outstanding.
RELEASE = script(_PRELUDE, "capacity/guard/release.lua")

# ARGV: lease_ms, default_cap.  Returns woken ids.
FILL = script(_PRELUDE, "capacity/guard/fill.lua")

# ARGV: job_id, cooldown_ms, learn (1/0), gap_ms, lapse_ms.  Returns the job's place (1 = next).
# The job drops its lease and goes to the FRONT class (0); if it already waits in the FRONT
# class it keeps its place, otherwise it is moved there behind earlier FRONT jobs.  With learn
# (a 499) the slots we still hold become the effective cap, the next probe may go a gap from
# now, and the occupancy lapses after lapse_ms without another 499.  Without it (a 429) a probe
# refused is merely no longer outstanding.
BACKOFF = script(_PRELUDE, "capacity/guard/backoff.lua")

# ARGV: default_cap.  Read-only snapshot: {cap, cooldown_ms, effective cap (-1: none),
# n_holders, holder, ms_left, ..., waiter, ...}.  Expired leases not yet dropped are left out.
STATE = script(_PRELUDE, "capacity/guard/state.lua")

# ARGV: default_cap.  Returns limit - live holders - waiters (may be negative), where the limit
# is the cap or the effective cap when lower.
FREE = script(_PRELUDE, "capacity/guard/free.lua")

# KEYS: slots.  Every holder, lapsed or not, with the ms left on its lease (<= 0: lapsed):
# {holder, ms_left, ...}.
LEASES = script(_PRELUDE, "capacity/guard/leases.lua")

# ARGV: job_id, lease_ms, default_cap, gap_ms, lapse_ms.  Returns woken ids.  The job ended for
# us but TTAPI may still run it (its fate could not be learned, or it outran its deadline): its
# slot becomes *occupancy*, one place fewer under the effective cap, which a probe TTAPI accepts
# gives back (and a 499 re-learns exactly). It lapses after lapse_ms: the job's longest life.
UNRESOLVED = script(_PRELUDE, "capacity/guard/unresolved.lua")
