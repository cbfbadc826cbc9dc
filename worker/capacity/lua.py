"""Lua sources for :mod:`worker.capacity.guard`: every change of the slot guard is one script.

All scripts read the clock with ``redis.call('TIME')`` so that workers on machines with skewed
clocks still agree on lease deadlines.  Scripts that take the whole key set expect, in order:
``KEYS = {slots, waiters, seq, cap, cool}`` of one account (they share a ``{label}`` hash tag).
"""

# Shared helpers, prepended to every script.  Scores of waiters are
# class * CLASS_SPAN + sequence, so FIFO holds within a class and lower classes go first.
_PRELUDE = """
local CLASS_SPAN = 10000000000000

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function get_cap(cap_key, default_cap)
  local c = redis.call('GET', cap_key)
  if c then return tonumber(c) end
  return default_cap
end

local function cooldown_left(cool_key)
  local t = redis.call('PTTL', cool_key)
  if t > 0 then return t end
  return 0
end

-- Drop leases whose deadline has passed: a dead worker must not hold a slot for ever.
local function drop_expired(slots, now)
  redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
end

-- Hand free slots to the head waiters in score order; returns their ids.
local function fill(slots, waiters, cap, now, lease)
  local woken = {}
  local free = cap - redis.call('ZCARD', slots)
  if free <= 0 then return woken end
  local head = redis.call('ZRANGE', waiters, 0, free - 1)
  for _, id in ipairs(head) do
    redis.call('ZADD', slots, now + lease, id)
    redis.call('ZREM', waiters, id)
    woken[#woken + 1] = id
  end
  return woken
end

-- Queue a job unless it is queued already (it keeps its place); returns nothing.
local function enqueue(waiters, seq, job, class)
  if redis.call('ZSCORE', waiters, job) then return end
  local n = redis.call('INCR', seq)
  redis.call('ZADD', waiters, class * CLASS_SPAN + n, job)
end
"""

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
if cool == 0 then woken = fill(KEYS[1], KEYS[2], cap, now, lease) end
local others = {}
for _, id in ipairs(woken) do
  if id == job then holds = true else others[#others + 1] = id end
end
local granted, queued = 0, 0
if holds then
  granted = 1
  cool = 0
elseif cool == 0 and redis.call('ZCARD', KEYS[1]) < cap
    and redis.call('ZCARD', KEYS[2]) == 0 then
  redis.call('ZADD', KEYS[1], now + lease, job)
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

# KEYS: slots.  ARGV: job_id, lease_ms.  Returns 1 if the job held a live lease (now extended).
RENEW = (
    _PRELUDE
    + """
local now = now_ms()
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) <= now then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return 1
"""
)

# ARGV: job_id, lease_ms, default_cap.  Returns woken ids.
RELEASE = (
    _PRELUDE
    + """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
local now = now_ms()
drop_expired(KEYS[1], now)
if cooldown_left(KEYS[5]) > 0 then return {} end
return fill(KEYS[1], KEYS[2], get_cap(KEYS[4], tonumber(ARGV[3])), now, tonumber(ARGV[2]))
"""
)

# ARGV: lease_ms, default_cap.  Returns woken ids.
FILL = (
    _PRELUDE
    + """
local now = now_ms()
drop_expired(KEYS[1], now)
if cooldown_left(KEYS[5]) > 0 then return {} end
return fill(KEYS[1], KEYS[2], get_cap(KEYS[4], tonumber(ARGV[2])), now, tonumber(ARGV[1]))
"""
)

# ARGV: job_id, cooldown_ms.  Returns the job's place (1 = next).  The job goes to the FRONT
# class (0); if it already waits in the FRONT class it keeps its place, otherwise it is moved
# there behind earlier FRONT jobs.
BACKOFF = (
    _PRELUDE
    + """
local job, ms = ARGV[1], tonumber(ARGV[2])
if ms > cooldown_left(KEYS[5]) then
  redis.call('SET', KEYS[5], '1', 'PX', ms)
end
redis.call('ZREM', KEYS[1], job)
local score = redis.call('ZSCORE', KEYS[2], job)
if score and tonumber(score) >= CLASS_SPAN then
  redis.call('ZREM', KEYS[2], job)
end
enqueue(KEYS[2], KEYS[3], job, 0)
return redis.call('ZRANK', KEYS[2], job) + 1
"""
)

# ARGV: default_cap.  Read-only snapshot: {cap, cooldown_ms, n_holders, holder, ms_left, ...,
# waiter, ...}.  Expired leases that no script has dropped yet are left out.
STATE = (
    _PRELUDE
    + """
local now = now_ms()
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES')
local out = {get_cap(KEYS[4], tonumber(ARGV[1])), cooldown_left(KEYS[5]), #live / 2}
for i = 1, #live, 2 do
  out[#out + 1] = live[i]
  out[#out + 1] = tonumber(live[i + 1]) - now
end
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do out[#out + 1] = id end
return out
"""
)

# ARGV: default_cap.  Returns cap - live holders - waiters (may be negative).
FREE = (
    _PRELUDE
    + """
local now = now_ms()
local cap = get_cap(KEYS[4], tonumber(ARGV[1]))
return cap - redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf') - redis.call('ZCARD', KEYS[2])
"""
)

# KEYS: slots.  ARGV: within_ms.  Holders whose deadline is at most now + within_ms
# (already-expired but not yet dropped ones included, so the pump can reap them).
EXPIRING = (
    _PRELUDE
    + """
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms() + tonumber(ARGV[1]))
"""
)
