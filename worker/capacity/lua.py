"""Lua scripts of :mod:`worker.capacity.guard`: every change of the slot guard is one script.

Each is the prelude (``worker/lua/capacity/guard/prelude.lua``: the clock, the cap, leases,
FIFO, occupancy) followed by its own file beside it, composed here. All read the clock with
``redis.call('TIME')`` so that workers on machines with skewed clocks still agree on lease
deadlines.  Scripts that take the whole key set expect, in order: ``KEYS = {slots, waiters,
seq, cap, cool, occ}`` of one account, then its callers' ``{loose, tally, held}`` (all under
one ``{label}`` hash tag), then the pool's five (`worker.keys.Keys.pool`); their last ARGV is
the callers' settings (`TenantBook.conf`). Those that hand places out compose, after the
prelude, ``lines.lua`` (waiters' scores, holders, the tenants' counts) and ``turns.lua`` (the
order): per account, the most urgent priority class, within it the tenant furthest below its
weighted share of slot-time, within the tenant a refused submit, then follow-ups, then first
come first served. The pool's keys are fleet-wide: these scripts touch keys of more than one
hash tag (one Redis, not a Cluster).

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
_LINES = "capacity/guard/lines.lua"
_TURNS = "capacity/guard/turns.lua"

# ARGV: job_id, urgency, lease_ms, default_cap, rank, bucket, loose (1/0), conf.
# Returns {granted, queued, cooldown_ms, position (1 = next; 0 unless queued), woken ids...}.
ACQUIRE = script(_PRELUDE, _LINES, _TURNS, "capacity/guard/acquire.lua")

# KEYS: the whole set, then wake.  ARGV: job_id, urgency, default_cap, rank, bucket, loose,
# conf.  Queues the job (it keeps its place if queued already) unless it holds a slot; when a
# fill could hand a slot out now, hints the account's engine (once: a non-empty wake list is a
# hint already).  Returns {holds (1/0), place (the estimated place in the order served, 1 =
# next, once the free slots went to those ahead; 0 when it holds a slot), 1 if a free slot is
# there for it now, 1 if its tenant is at its max_in_progress, then (a loose job that waits)
# the accounts with room for another's waiter}.
ENQUEUE = script(_PRELUDE, _LINES, _TURNS, "capacity/guard/enqueue.lua")

# KEYS: slots, occ.  ARGV: job_id, lease_ms, confirms (1/0).  Returns 1 if the job held a live
# lease (now extended).  A confirming renew (the submit was accepted) of the outstanding probe
# raises the effective cap by one and lets the next probe go at once.
RENEW = script(_PRELUDE, "capacity/guard/renew.lua")

# KEYS: occ, refusals.  ARGV: job_id.  TTAPI accepted the job: a 429 streak ends, and if the job
# was the probe above the effective cap, the cap rises by one and the next probe may go at once.
# Returns 1 when it was the probe.
# `ACCEPTED_FN` names its parts, for a script that runs it beside its own work (the record's
# move on the submit's answer: `worker.jobs.records`).
ACCEPTED_FN = (_PRELUDE, "capacity/guard/accepted_fn.lua")
ACCEPTED = script(*ACCEPTED_FN, "capacity/guard/accepted.lua")

# Scripts that hand places out reply {spare, n, n labels, woken ids...}: spare (1/0) when the
# account has a place left and another account's line holds a job it may take (`STEAL`); the
# labels, accounts whose waiters waited for a tenant that just went under its max_in_progress.

# ARGV: job_id, lease_ms, default_cap, conf.  A probe released before TTAPI accepted it
# (failed otherwise, revoked) taught nothing: it is simply no longer outstanding.
RELEASE = script(_PRELUDE, _LINES, _TURNS, "capacity/guard/release.lua")

# ARGV: lease_ms, default_cap, conf.
FILL = script(_PRELUDE, _LINES, _TURNS, "capacity/guard/fill.lua")

# ARGV: job_id, cooldown_ms, learn (1/0), gap_ms, lapse_ms, default_cap, conf.  Returns the
# job's place (1 = next).  The job drops its lease and goes back in line at the head of its own
# tenant and class (urgency 0); if it waits there already it keeps its place, otherwise it goes
# behind earlier refused jobs of its line.  With learn (a 499) the slots we still hold become
# the effective cap, the next probe may go a gap from now, and the occupancy lapses after
# lapse_ms without another 499.  Without it (a 429) a probe refused is merely no longer
# outstanding.
BACKOFF = script(_PRELUDE, _LINES, _TURNS, "capacity/guard/backoff.lua")

# ARGV: default_cap.  Read-only snapshot: {cap, cooldown_ms, effective cap (-1: none),
# n_holders, holder, ms_left, ..., waiter, ...}.  Expired leases not yet dropped are left out.
STATE = script(_PRELUDE, "capacity/guard/state.lua")

# ARGV: default_cap.  Returns limit - live holders - waiters (may be negative), where the limit
# is the cap or the effective cap when lower.
FREE = script(_PRELUDE, "capacity/guard/free.lua")

# KEYS: slots.  Every holder, lapsed or not, with the ms left on its lease (<= 0: lapsed):
# {holder, ms_left, ...}.
LEASES = script(_PRELUDE, "capacity/guard/leases.lua")

# ARGV: job_id, lease_ms, default_cap, gap_ms, lapse_ms, conf.  The job ended for us but TTAPI
# may still run it (its fate could not be learned, or it outran its deadline): its slot becomes
# *occupancy*, one place fewer under the effective cap, which a probe TTAPI accepts gives back
# (and a 499 re-learns exactly). It lapses after lapse_ms: the job's longest life.
UNRESOLVED = script(_PRELUDE, _LINES, _TURNS, "capacity/guard/unresolved.lua")

# KEYS: the whole set.  ARGV: n, job ids..., conf.  Read-only: the estimated place in the order
# served (1 = next) of the first n waiters of each line, and of the job ids given that wait:
# {job, place, ...}, unordered.
PLACES = script(_PRELUDE, _LINES, _TURNS, "capacity/guard/places.lua")

# KEYS: the whole set.  ARGV: lease_ms, then job id, rank, bucket, loose (1/0) per job, conf.
# Jobs TTAPI runs get a slot back whatever the cap (a lapse or a lost write took it), noted with
# their line so their tenants count them again; jobs holding one keep it.  Returns how many.
RESTORE = script(_PRELUDE, _LINES, "capacity/guard/restore.lua")

# KEYS: the receiving account's whole set, then each donor's nine.  ARGV: lease_ms,
# default_cap, conf.  Fills the receiver from its own line, then hands its places left to the
# best waiters the donors' lines let another account take (the most urgent class, then the
# tenant furthest below its share, then the line's order), each taken out of its donor's line
# in the same breath.  Returns {n own, the fill's reply, then job, donor, job, donor...}.
STEAL = script(_PRELUDE, _LINES, _TURNS, "capacity/guard/steal.lua")
