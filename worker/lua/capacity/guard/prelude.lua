local CLASS_SPAN = 10000000000000

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A number as Redis must read it back exactly (Lua's own tostring keeps 14 digits only).
local function num(x)
  return string.format('%.17g', x)
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

-- One account's keys, KEYS[base + 1 ...]: the six of the slot guard, then its callers' three.
local function account(base)
  return {slots = KEYS[base + 1], waiters = KEYS[base + 2], seq = KEYS[base + 3],
          cap = KEYS[base + 4], cool = KEYS[base + 5], occ = KEYS[base + 6],
          loose = KEYS[base + 7], tally = KEYS[base + 8], held = KEYS[base + 9],
          label = string.match(KEYS[base + 1], '{(.*)}')}
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
