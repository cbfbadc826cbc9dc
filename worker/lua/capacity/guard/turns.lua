-- Whose turn it is (after lines.lua): the order a freed place goes by, handing places out,
-- and where a waiter stands in that order.

-- The account's lines with waiters, by rank: {[rank] = {bucket, ...}} (from the tally).
local function lines_by_rank(A)
  local flat = redis.call('HGETALL', A.tally)
  local by = {}
  for i = 1, #flat, 2 do
    local r, b = string.match(flat[i], '^(%d+):(%d+)$')
    if r and tonumber(flat[i + 1]) > 0 then
      r = tonumber(r)
      by[r] = by[r] or {}
      table.insert(by[r], tonumber(b))
    end
  end
  return by
end

local function head_of(src, rank, b)
  local lo = OFFSET + rank * RANK_SPAN + b * BUCKET_SPAN
  local h = redis.call('ZRANGEBYSCORE', src, num(lo), '(' .. num(lo + BUCKET_SPAN),
    'WITHSCORES', 'LIMIT', 0, 1)
  if h[1] then return h[1], tonumber(h[2]) end
  return nil, nil
end

-- Within one rank: the head of the tenant furthest below its weighted share, among tenants
-- under their cap: the least (decayed slot-time + half a job) per weight, the lower bucket
-- number on a tie. (Half a job: the share as it will be halfway through the job it is handed,
-- which keeps shares exact while usage decays.) With `count`, a tenant passed over conf().m
-- times in a row in this rank on this account goes now (the most passed over).
local function best_in_rank(A, src, rank, buckets, now, count)
  if count then
    local fields = {}
    for i, b in ipairs(buckets) do fields[i] = 'p' .. rank .. ':' .. b end
    local passed = redis.call('HMGET', A.tally, unpack(fields))
    local most, pick = conf().m - 1, nil
    for i, b in ipairs(buckets) do
      local n = tonumber(passed[i] or '0')
      if n > most and not capped(b) then
        local j, s = head_of(src, rank, b)
        if j then most, pick = n, {j, s, b} end
      end
    end
    if pick then return pick[1], pick[2], pick[3], -1 end
  end
  local job, score, bucket, key
  for _, b in ipairs(buckets) do
    if not capped(b) then
      local k = (usage(b, now) + estimate(b, now) / 2) / tenant(b)
      if job == nil or k < key or (k == key and b < bucket) then
        local j, s = head_of(src, rank, b)
        if j then job, score, bucket, key = j, s, b, k end
      end
    end
  end
  return job, score, bucket, key
end

-- Count a grant to (`rank`, `bucket`) against those it passed over: a less urgent rank with a
-- waiter that may go, and another tenant of the same rank with a waiter under its cap.
local function passed_over(A, by, found, rank, bucket)
  for r = rank + 1, 2 do
    if found[r] then redis.call('HINCRBY', A.tally, 's' .. r, 1) end
  end
  redis.call('HDEL', A.tally, 's' .. rank, 'p' .. rank .. ':' .. bucket)
  for _, b in ipairs(by[rank]) do
    if b ~= bucket and not capped(b) then redis.call('HINCRBY', A.tally, 'p' .. rank .. ':' .. b, 1) end
  end
end

-- The next waiter `src` serves (A.waiters; A.loose for another account), as
-- {job, score, rank, bucket, key}, or nil when none may go now. A waiter of the release before
-- first; then the most urgent rank with a tenant under its cap, except that, with `count`, a
-- less urgent rank passed over conf().n times in a row on this account goes now (the most
-- urgent such); within the rank, best_in_rank; within the tenant, its line's order.
local function choose(A, src, now, count)
  local head = redis.call('ZRANGE', src, 0, 0, 'WITHSCORES')
  if not head[1] then return nil end
  if tonumber(head[2]) < OFFSET then
    return {job = head[1], score = tonumber(head[2]), rank = 1, bucket = 0, key = 0}
  end
  local by = lines_by_rank(A)
  local found, first = {}, nil
  for r = 0, 2 do
    if by[r] then
      local j, s, b, k = best_in_rank(A, src, r, by[r], now, count)
      if j then
        found[r] = {job = j, score = s, rank = r, bucket = b, key = k}
        first = first or r
        if not count then break end
      end
    end
  end
  if first == nil then return nil end
  local serve = first
  if count then
    for r = first + 1, 2 do
      if found[r] and tonumber(redis.call('HGET', A.tally, 's' .. r) or '0') >= conf().n then
        serve = r
        break
      end
    end
    passed_over(A, by, found, serve, found[serve].bucket)
  end
  return found[serve]
end

-- Hand `job`, a waiter of A, a slot on B (A itself, or an account taking it from A's line);
-- `known`: its score in A.waiters, when just read there.
local function take(A, B, job, now, lease, known)
  local score, loose = drop_waiter(A, job, known)
  local rank, b = 1, 0
  if score and score >= OFFSET then rank, b = parts(score) end
  grant(B, job, now, lease, rank, b, loose)
end

-- Hand free places (up to the limit) to the waiters in turn, then one probe if it is due.
-- Returns their ids and the places still free (0 while cooling down).
local function fill(A, cap, now, lease)
  local woken = {}
  if cooldown_left(A.cool) > 0 then return woken, 0 end
  local free = limit(A.occ, cap) - redis.call('ZCARD', A.slots)
  while free > 0 do
    local w = choose(A, A.waiters, now, true)
    if not w then break end
    take(A, A, w.job, now, lease, w.score)
    woken[#woken + 1] = w.job
    free = free - 1
  end
  if probe_due(A.occ, A.slots, cap, now) then
    local w = choose(A, A.waiters, now, true)
    if w then
      take(A, A, w.job, now, lease, w.score)
      mark_probe(A.occ, w.job, now)
      woken[#woken + 1] = w.job
    end
  end
  if free > 0 and redis.call('ZCARD', A.waiters) > 0 then redis.call('SADD', BLOCKED, A.label) end
  return woken, math.max(free, 0)
end

-- Note whether A has a place nobody in its own line waits for (ROOMY); 1 when it should look
-- for a job in another account's line (one holds a job it may take), else 0.
local function note_room(A, free)
  if free <= 0 then
    redis.call('SREM', ROOMY, A.label)
    return 0
  end
  redis.call('SADD', ROOMY, A.label)
  local n = redis.call('SCARD', LINES)
  if n > 1 or (n == 1 and redis.call('SISMEMBER', LINES, A.label) == 0) then return 1 end
  return 0
end

-- The reply of a script that hands places out: {spare (note_room), n, the n accounts whose
-- waiters waited for a tenant now under its cap, the ids handed a place...}.
local function handed(A, woken, free)
  local out = {note_room(A, free), 0}
  if UNBLOCKED then
    local labels = redis.call('SMEMBERS', BLOCKED)
    if #labels > 0 then redis.call('DEL', BLOCKED) end
    out[2] = #labels
    for _, l in ipairs(labels) do out[#out + 1] = l end
  end
  for _, id in ipairs(woken) do out[#out + 1] = id end
  return out
end

-- The job's estimated place in the order A serves (1 = next; 0 if it does not wait): waiters
-- of the release before, the more urgent classes, those ahead in its own line, and of each
-- other tenant of its class as many as the weighted shares serve before its turn. `known`: its
-- score in A.waiters, when this script just queued it (add_waiter's answer).
local function place_of(A, job, now, known)
  local score = known or redis.call('ZSCORE', A.waiters, job)
  if not score then return 0 end
  score = tonumber(score)
  if score < OFFSET then return redis.call('ZRANK', A.waiters, job) + 1 end
  local rank, b = parts(score)
  local ahead = redis.call('ZCOUNT', A.waiters, '-inf', '(' .. num(OFFSET))
  local lo = OFFSET + rank * RANK_SPAN + b * BUCKET_SPAN
  local mine = redis.call('ZCOUNT', A.waiters, num(lo), '(' .. num(score))
  -- per line {rank, bucket, n}; a tenant's jobs of more urgent classes go first, and are
  -- charged to it before this class's turn comes
  local lines, first = {}, {}
  local flat = redis.call('HGETALL', A.tally)
  for i = 1, #flat, 2 do
    local r, o = string.match(flat[i], '^(%d+):(%d+)$')
    if r then
      r, o = tonumber(r), tonumber(o)
      local n = tonumber(flat[i + 1])
      lines[#lines + 1] = {r, o, n}
      if r < rank then
        ahead = ahead + n
        first[o] = (first[o] or 0) + n
      end
    end
  end
  local function used(o)
    return usage(o, now) + (first[o] or 0) * estimate(o, now)
  end
  local turn = (used(b) + (mine + 0.5) * estimate(b, now)) / tenant(b)
  for _, line in ipairs(lines) do
    local r, o, n = line[1], line[2], line[3]
    if r == rank and o ~= b then
      -- its jobs whose key is below this one's turn (or equal, with a lower bucket number)
      local v = (turn * tenant(o) - used(o)) / estimate(o, now) + 0.5
      local before = o < b and math.floor(v) or math.ceil(v) - 1
      ahead = ahead + math.max(0, math.min(n, before))
    end
  end
  return ahead + mine + 1
end
