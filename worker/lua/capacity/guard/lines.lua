-- Waiters' scores. A waiter of the release before is `class * CLASS_SPAN + seq`, below OFFSET:
-- it goes first, as it would have. This release's are
--   OFFSET + rank * RANK_SPAN + bucket * BUCKET_SPAN + urgency * SEQ_SPAN + seq,
-- so the waiters of one tenant (bucket) and one priority class (rank) are one range of scores,
-- its line; within it a refused submit (urgency 0) goes first, then follow-ups (1), then fresh
-- jobs (2), first come first served.
local OFFSET = 3 * CLASS_SPAN
local SEQ_SPAN = 100000000000
local BUCKET_SPAN = 3 * SEQ_SPAN
local RANK_SPAN = 1000 * BUCKET_SPAN

-- The pool's keys, after the (first) account's nine.
local USAGE, BUSY, LINES, ROOMY, BLOCKED = KEYS[10], KEYS[11], KEYS[12], KEYS[13], KEYS[14]

-- The callers' settings, the last ARGV (JSON): `h` the half-life of usage (ms), `n` how often
-- in a row a class may be passed over, `m` a tenant within its class, `e` a first grant's
-- charge (ms), `k` the weight of a slot given back in its tenant's average time held, `w` per
-- bucket [weight, max in progress].
local CONF = nil
local function conf()
  if CONF == nil then CONF = cjson.decode(ARGV[#ARGV]) end
  return CONF
end

-- A bucket's weight and max_in_progress (0: none); a bucket this process has no settings for
-- has weight 1 and no cap.
local function tenant(b)
  local t = conf().w[tostring(b)]
  if t then return t[1], t[2] end
  return 1, 0
end

-- Writes to the usage hash a script holds back (after `defer_usage`) until `flush_usage`: a
-- slot given back and the grant that hands it out again write the hash once. Field -> value,
-- and the fields in the order first written.
local PENDING, ORDER = nil, nil

-- A bucket's figures, read once per call (one HMGET, with the writes held back over it): its
-- slot-time (ms) decayed to `now`, its average time held, and the average over all buckets.
local SEEN = {}
local function figures(b, now)
  local f = SEEN[b]
  if f == nil then
    local names = {'u' .. b, 't' .. b, 'a' .. b, 'a'}
    local v = redis.call('HMGET', USAGE, unpack(names))
    if PENDING then
      for i, name in ipairs(names) do
        if PENDING[name] ~= nil then v[i] = PENDING[name] end
      end
    end
    local u = tonumber(v[1] or '0')
    if v[2] then u = u * 2 ^ (-math.max(0, now - tonumber(v[2])) / conf().h) end
    f = {used = u, avg = v[3] and tonumber(v[3]) or nil, all = v[4] and tonumber(v[4]) or nil}
    SEEN[b] = f
  end
  return f
end

local function usage(b, now)
  return figures(b, now).used
end

-- Charge `ms` to the bucket: the fields and values to write (one HSET with others).
local function charged(b, ms, now)
  local f = figures(b, now)
  f.used = math.max(0, f.used + ms)
  return 'u' .. b, num(f.used), 't' .. b, now
end

local function write_usage(...)
  if PENDING == nil then
    redis.call('HSET', USAGE, ...)
    return
  end
  local pairs_ = {...}
  for i = 1, #pairs_, 2 do
    if PENDING[pairs_[i]] == nil then ORDER[#ORDER + 1] = pairs_[i] end
    PENDING[pairs_[i]] = pairs_[i + 1]
  end
end

local function defer_usage()
  PENDING, ORDER = {}, {}
end

local function flush_usage()
  if PENDING and #ORDER > 0 then
    local flat = {}
    for _, name in ipairs(ORDER) do
      flat[#flat + 1] = name
      flat[#flat + 1] = PENDING[name]
    end
    redis.call('HSET', USAGE, unpack(flat))
  end
  PENDING, ORDER = nil, nil
end

local function charge(b, ms, now)
  write_usage(charged(b, ms, now))
end

-- What a grant is charged until its slot is given back: the bucket's average time held (all
-- buckets' before it has one, a first guess before anything was held).
local function estimate(b, now)
  local f = figures(b, now)
  return math.floor(f.avg or f.all or conf().e)
end

-- Learn from a slot held `took` ms: the fields and values to write.
local function learned(b, took, now)
  local k, f = conf().k, figures(b, now)
  f.avg = (f.avg or took) + (took - (f.avg or took)) * k
  f.all = (f.all or took) + (took - (f.all or took)) * k
  for _, g in pairs(SEEN) do g.all = f.all end
  return 'a' .. b, num(f.avg), 'a', num(f.all)
end

local function capped(b)
  local _, most = tenant(b)
  return most > 0 and tonumber(redis.call('HGET', BUSY, b) or '0') >= most
end

local function parts(score)
  local s = score - OFFSET
  local rank = math.floor(s / RANK_SPAN)
  s = s - rank * RANK_SPAN
  local b = math.floor(s / BUCKET_SPAN)
  s = s - b * BUCKET_SPAN
  return rank, b, math.floor(s / SEQ_SPAN)
end

-- Queue `job` in its line unless it waits already (it keeps its place). Returns its score.
local function add_waiter(A, job, rank, b, urgency, loose)
  local had = redis.call('ZSCORE', A.waiters, job)
  if had then return tonumber(had) end
  local n = redis.call('INCR', A.seq)
  local score = num(OFFSET + rank * RANK_SPAN + b * BUCKET_SPAN + urgency * SEQ_SPAN + n)
  redis.call('ZADD', A.waiters, score, job)
  redis.call('HINCRBY', A.tally, rank .. ':' .. b, 1)
  if loose then
    redis.call('ZADD', A.loose, score, job)
    redis.call('SADD', LINES, A.label)
  end
  return tonumber(score)
end

-- Take `job` out of its line: its score (nil if it did not wait) and whether it was loose.
-- `known`: its score in A.waiters as this script just read it there (it waits), not read again.
local function drop_waiter(A, job, known)
  local score = known or redis.call('ZSCORE', A.waiters, job)
  if not score then return nil, false end
  score = tonumber(score)
  redis.call('ZREM', A.waiters, job)
  if score >= OFFSET then
    local rank, b = parts(score)
    local field = rank .. ':' .. b
    if redis.call('HINCRBY', A.tally, field, -1) <= 0 then redis.call('HDEL', A.tally, field) end
  end
  local loose = redis.call('ZREM', A.loose, job) == 1
  if loose and redis.call('ZCARD', A.loose) == 0 then redis.call('SREM', LINES, A.label) end
  return score, loose
end

-- A slot on A for `job`, noted with its line: its tenant's count rises, and it is charged the
-- tenant's average time held now (corrected when the slot is given back).
local function grant(A, job, now, lease, rank, b, loose)
  redis.call('ZADD', A.slots, now + lease, job)
  local est = estimate(b, now)
  local line = b .. '|' .. rank .. '|' .. (loose and 1 or 0) .. '|' .. now .. '|' .. est
  redis.call('HSET', A.held, job, line)
  redis.call('HINCRBY', BUSY, b, 1)
  charge(b, est, now)
end

-- Set when a tenant at its max_in_progress gave a slot back: blocked accounts may fill again.
local UNBLOCKED = false

-- A holder gives its slot back (released, refused, lapsed): its tenant's count falls, the time
-- it held the slot is charged as it was. Its line {bucket, rank, loose}, or nil if none known.
local function settle(A, job, now)
  local h = redis.call('HGET', A.held, job)
  if not h then return nil end
  redis.call('HDEL', A.held, job)
  local f = {}
  for p in string.gmatch(h, '[^|]+') do f[#f + 1] = tonumber(p) end
  local b = f[1]
  local left = redis.call('HINCRBY', BUSY, b, -1)
  if left < 0 then
    redis.call('HSET', BUSY, b, 0)
    left = 0
  end
  local _, most = tenant(b)
  if most > 0 and left + 1 >= most then UNBLOCKED = true end
  local took = math.max(0, now - f[4])
  local u, used, t, at = charged(b, took - f[5], now)
  write_usage(u, used, t, at, learned(b, took, now))
  return {bucket = b, rank = f[2], loose = f[3] == 1}
end

-- Drop leases whose deadline has passed: a dead worker must not hold a slot for ever; its
-- tenant's count falls with them, so it never drifts.
local function drop_expired(A, now)
  local gone = redis.call('ZRANGEBYSCORE', A.slots, '-inf', now)
  if #gone == 0 then return end
  for _, job in ipairs(gone) do settle(A, job, now) end
  redis.call('ZREMRANGEBYSCORE', A.slots, '-inf', now)
end

-- Holders noted whose slot went without this release's scripts (one of the release before
-- freed it): settled, so their tenant's count does not stay up.
local function mend(A, now)
  if redis.call('HLEN', A.held) <= redis.call('ZCARD', A.slots) then return end
  for _, job in ipairs(redis.call('HKEYS', A.held)) do
    if not redis.call('ZSCORE', A.slots, job) then settle(A, job, now) end
  end
end
