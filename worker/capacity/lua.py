"""Lua sources for :mod:`worker.capacity.guard`: every change of the slot guard is one script.

All scripts read the clock with ``redis.call('TIME')`` so that workers on machines with skewed
clocks still agree on lease deadlines.  Scripts that take the whole key set expect, in order:
``KEYS = {slots, waiters, seq, cap, cool, occ}`` of one account (one ``{label}`` hash tag).
The shared helpers, and what ``occ`` (occupancy) holds, are in :mod:`worker.capacity.lua_prelude`.
"""

from worker.capacity.lua_prelude import PRELUDE as _PRELUDE

# ARGV: job_id, priority, lease_ms, default_cap.
# Returns {granted, queued, cooldown_ms, position (1 = next; 0 unless queued), woken ids...}.
ACQUIRE = (
    _PRELUDE
    + """
local job, class = ARGV[1], tonumber(ARGV[2])
local lease, cap = tonumber(ARGV[3]), get_cap(KEYS[4], tonumber(ARGV[4]))
local now = now_ms()
local cool = cooldown_left(KEYS[5])
drop_expired(KEYS[1], now)
local holds = redis.call('ZSCORE', KEYS[1], job)
if holds then
  redis.call('ZADD', KEYS[1], now + lease, job)
end
local woken = {}
if cool == 0 then woken = fill(KEYS[1], KEYS[2], cap, now, lease, KEYS[6]) end
local others = {}
for _, id in ipairs(woken) do
  if id == job then holds = true else others[#others + 1] = id end
end
local granted, queued = 0, 0
if holds then
  granted = 1
  cool = 0
elseif cool == 0 and redis.call('ZCARD', KEYS[2]) == 0
    and redis.call('ZCARD', KEYS[1]) < limit(KEYS[6], cap) then
  redis.call('ZADD', KEYS[1], now + lease, job)
  granted = 1
elseif cool == 0 and redis.call('ZCARD', KEYS[2]) == 0
    and probe_due(KEYS[6], KEYS[1], cap, now) then
  redis.call('ZADD', KEYS[1], now + lease, job)
  mark_probe(KEYS[6], job, now)
  granted = 1
else
  enqueue(KEYS[2], KEYS[3], job, class)
  queued = 1
end
local position = 0
if queued == 1 then position = redis.call('ZRANK', KEYS[2], job) + 1 end
local out = {granted, queued, cool, position}
for _, id in ipairs(others) do out[#out + 1] = id end
return out
"""
)

# KEYS: the account's six, then wake.  ARGV: job_id, priority, default_cap.  Queues the job (it
# keeps its place if queued already) unless it holds a slot; when a fill could hand a slot out
# now, hints the account's engine (once: a non-empty wake list is a hint already).
# Returns {holds (1/0), place (1 = next, once the free slots went to those ahead; 0 when it
# holds a slot), 1 if a free slot is there for it now}.
ENQUEUE = (
    _PRELUDE
    + """
local job, class = ARGV[1], tonumber(ARGV[2])
local now = now_ms()
drop_expired(KEYS[1], now)
local cap = get_cap(KEYS[4], tonumber(ARGV[3]))
local room = 0
if cooldown_left(KEYS[5]) == 0 then
  room = limit(KEYS[6], cap) - redis.call('ZCARD', KEYS[1])
  if room < 1 and probe_due(KEYS[6], KEYS[1], cap, now) then room = 1 end
end
if redis.call('ZSCORE', KEYS[1], job) then
  redis.call('RPUSH', KEYS[7], 'submit|' .. job)
  return {1, 0, 1}
end
enqueue(KEYS[2], KEYS[3], job, class)
if room > 0 and redis.call('LLEN', KEYS[7]) == 0 then redis.call('RPUSH', KEYS[7], 'fill') end
local position = redis.call('ZRANK', KEYS[2], job) + 1
if position <= room then return {0, position, 1} end
return {0, position - math.max(room, 0), 0}
"""
)

# KEYS: slots, occ.  ARGV: job_id, lease_ms, confirms (1/0).  Returns 1 if the job held a live
# lease (now extended).  A confirming renew (the submit was accepted) of the outstanding probe
# raises the effective cap by one and lets the next probe go at once.
RENEW = (
    _PRELUDE
    + """
local now = now_ms()
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) <= now then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
if ARGV[3] == '1' and redis.call('HGET', KEYS[2], 'probe') == ARGV[1] then
  redis.call('HINCRBY', KEYS[2], 'cap', 1)
  redis.call('HDEL', KEYS[2], 'probe')
  redis.call('HSET', KEYS[2], 'next', now)
end
return 1
"""
)

# KEYS: occ, refusals.  ARGV: job_id.  TTAPI accepted the job: a 429 streak ends, and if the job
# was the probe above the effective cap, the cap rises by one and the next probe may go at once.
# Returns 1 when it was the probe.
ACCEPTED = (
    _PRELUDE
    + """
redis.call('DEL', KEYS[2])
if redis.call('HGET', KEYS[1], 'probe') ~= ARGV[1] then return 0 end
redis.call('HINCRBY', KEYS[1], 'cap', 1)
redis.call('HDEL', KEYS[1], 'probe')
redis.call('HSET', KEYS[1], 'next', now_ms())
return 1
"""
)

# ARGV: job_id, lease_ms, default_cap.  Returns woken ids.  A probe released before TTAPI
# accepted it (failed otherwise, revoked) taught nothing: it is simply no longer outstanding.
RELEASE = (
    _PRELUDE
    + """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if occ_read(KEYS[6]).probe == ARGV[1] then
  redis.call('HDEL', KEYS[6], 'probe')
  occ_forget(KEYS[6])
end
local now = now_ms()
drop_expired(KEYS[1], now)
if cooldown_left(KEYS[5]) > 0 then return {} end
local cap = get_cap(KEYS[4], tonumber(ARGV[3]))
return fill(KEYS[1], KEYS[2], cap, now, tonumber(ARGV[2]), KEYS[6])
"""
)

# ARGV: lease_ms, default_cap.  Returns woken ids.
FILL = (
    _PRELUDE
    + """
local now = now_ms()
drop_expired(KEYS[1], now)
if cooldown_left(KEYS[5]) > 0 then return {} end
local cap = get_cap(KEYS[4], tonumber(ARGV[2]))
return fill(KEYS[1], KEYS[2], cap, now, tonumber(ARGV[1]), KEYS[6])
"""
)

# ARGV: job_id, cooldown_ms, learn (1/0), gap_ms, lapse_ms.  Returns the job's place (1 = next).
# The job drops its lease and goes to the FRONT class (0); if it already waits in the FRONT
# class it keeps its place, otherwise it is moved there behind earlier FRONT jobs.  With learn
# (a 499) the slots we still hold become the effective cap, the next probe may go a gap from
# now, and the occupancy lapses after lapse_ms without another 499.  Without it (a 429) a probe
# refused is merely no longer outstanding.
BACKOFF = (
    _PRELUDE
    + """
local job, ms = ARGV[1], tonumber(ARGV[2])
if ms > cooldown_left(KEYS[5]) then
  redis.call('SET', KEYS[5], '1', 'PX', ms)
end
redis.call('ZREM', KEYS[1], job)
if ARGV[3] == '1' then
  local now = now_ms()
  drop_expired(KEYS[1], now)
  local gap = tonumber(ARGV[4])
  redis.call('DEL', KEYS[6])
  redis.call('HSET', KEYS[6], 'cap', redis.call('ZCARD', KEYS[1]), 'gap', gap, 'next', now + gap)
  redis.call('PEXPIRE', KEYS[6], math.max(1, tonumber(ARGV[5])))
elseif redis.call('HGET', KEYS[6], 'probe') == job then
  redis.call('HDEL', KEYS[6], 'probe')
end
local score = redis.call('ZSCORE', KEYS[2], job)
if score and tonumber(score) >= CLASS_SPAN then
  redis.call('ZREM', KEYS[2], job)
end
enqueue(KEYS[2], KEYS[3], job, 0)
return redis.call('ZRANK', KEYS[2], job) + 1
"""
)

# ARGV: default_cap.  Read-only snapshot: {cap, cooldown_ms, effective cap (-1: none),
# n_holders, holder, ms_left, ..., waiter, ...}.  Expired leases not yet dropped are left out.
STATE = (
    _PRELUDE
    + """
local now = now_ms()
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES')
local cap = get_cap(KEYS[4], tonumber(ARGV[1]))
local out = {cap, cooldown_left(KEYS[5]), occ_cap(KEYS[6]) or -1, #live / 2}
for i = 1, #live, 2 do
  out[#out + 1] = live[i]
  out[#out + 1] = tonumber(live[i + 1]) - now
end
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do out[#out + 1] = id end
return out
"""
)

# ARGV: default_cap.  Returns limit - live holders - waiters (may be negative), where the limit
# is the cap or the effective cap when lower.
FREE = (
    _PRELUDE
    + """
local now = now_ms()
local lim = limit(KEYS[6], get_cap(KEYS[4], tonumber(ARGV[1])))
return lim - redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf') - redis.call('ZCARD', KEYS[2])
"""
)

# KEYS: slots.  Every holder, lapsed or not, with the ms left on its lease (<= 0: lapsed):
# {holder, ms_left, ...}.
LEASES = (
    _PRELUDE
    + """
local now = now_ms()
local out = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 2, #out, 2 do out[i] = tonumber(out[i]) - now end
return out
"""
)

# ARGV: job_id, lease_ms, default_cap, gap_ms, lapse_ms.  Returns woken ids.  The job ended for
# us but TTAPI may still run it (its fate could not be learned, or it outran its deadline): its
# slot becomes *occupancy*, one place fewer under the effective cap, which a probe TTAPI accepts
# gives back (and a 499 re-learns exactly). It lapses after lapse_ms: the job's longest life.
UNRESOLVED = (
    _PRELUDE
    + """
local now = now_ms()
drop_expired(KEYS[1], now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return {} end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
local cap = get_cap(KEYS[4], tonumber(ARGV[3]))
local e = occ_cap(KEYS[6]) or cap
if e > cap then e = cap end
local gap = tonumber(ARGV[4])
local nxt = occ_read(KEYS[6]).next
local probe = occ_read(KEYS[6]).probe
redis.call('HSET', KEYS[6], 'cap', math.max(e - 1, 0), 'gap', gap, 'next', math.max(nxt, now + gap))
if probe == ARGV[1] then redis.call('HDEL', KEYS[6], 'probe') end
occ_forget(KEYS[6])
local lapse = math.max(1, tonumber(ARGV[5]))
if redis.call('PTTL', KEYS[6]) < lapse then redis.call('PEXPIRE', KEYS[6], lapse) end
if cooldown_left(KEYS[5]) > 0 then return {} end
return fill(KEYS[1], KEYS[2], cap, now, tonumber(ARGV[2]), KEYS[6])
"""
)
