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

-- The occupancy hash, read once per script call (one HMGET, not one HGET per question);
-- every write to it goes through occ_forget, so the next question reads it again.
local OCC_SEEN = {}
local function occ_read(occ)
  local o = OCC_SEEN[occ]
  if o == nil then
    local v = redis.call('HMGET', occ, 'cap', 'probe', 'next', 'gap')
    o = {cap = v[1] and tonumber(v[1]) or nil, probe = v[2] or nil,
         next = tonumber(v[3] or '0'), gap = tonumber(v[4] or '0')}
    OCC_SEEN[occ] = o
  end
  return o
end

local function occ_forget(occ)
  OCC_SEEN[occ] = nil
end

-- The effective cap learned from a 499, or nil while none is known (or it lapsed).
local function occ_cap(occ)
  return occ_read(occ).cap
end

-- How many slots grants may fill: the cap, or the effective cap when lower.
local function limit(occ, cap)
  local e = occ_cap(occ)
  if e and e < cap then return e end
  return cap
end

-- One probe above the effective cap may go out: a cap is learned and below the cap, no probe is
-- outstanding (a probe is one while it holds a slot) and its time has come.
local function probe_due(occ, slots, cap, now)
  local o = occ_read(occ)
  local e = o.cap
  if not e or e >= cap or redis.call('ZCARD', slots) >= cap then return false end
  if o.probe and redis.call('ZSCORE', slots, o.probe) then return false end
  return now >= o.next
end

-- Note `job` as the outstanding probe; the next may go no sooner than a gap from now.
local function mark_probe(occ, job, now)
  local gap = occ_read(occ).gap
  redis.call('HSET', occ, 'probe', job, 'next', now + gap)
  occ_forget(occ)
end

-- Hand free slots (up to the limit) to the head waiters in score order, then one probe if it
-- is due; returns their ids.
local function fill(slots, waiters, cap, now, lease, occ)
  local woken = {}
  local free = limit(occ, cap) - redis.call('ZCARD', slots)
  if free > 0 then
    for _, id in ipairs(redis.call('ZRANGE', waiters, 0, free - 1)) do
      redis.call('ZADD', slots, now + lease, id)
      redis.call('ZREM', waiters, id)
      woken[#woken + 1] = id
    end
  end
  if probe_due(occ, slots, cap, now) then
    local head = redis.call('ZRANGE', waiters, 0, 0)
    if head[1] then
      redis.call('ZADD', slots, now + lease, head[1])
      redis.call('ZREM', waiters, head[1])
      mark_probe(occ, head[1], now)
      woken[#woken + 1] = head[1]
    end
  end
  return woken
end

-- Queue a job unless it is queued already (it keeps its place); returns nothing.
local function enqueue(waiters, seq, job, class)
  if redis.call('ZSCORE', waiters, job) then return end
  local n = redis.call('INCR', seq)
  redis.call('ZADD', waiters, class * CLASS_SPAN + n, job)
end
