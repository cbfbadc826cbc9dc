local A = account(0)
local job, ms = ARGV[1], tonumber(ARGV[2])
if ms > cooldown_left(A.cool) then
  redis.call('SET', A.cool, '1', 'PX', ms)
end
local now = now_ms()
local line = settle(A, job, now)
redis.call('ZREM', A.slots, job)
if ARGV[3] == '1' then
  drop_expired(A, now)
  local gap = tonumber(ARGV[4])
  redis.call('DEL', A.occ)
  redis.call('HSET', A.occ, 'cap', redis.call('ZCARD', A.slots), 'gap', gap, 'next', now + gap)
  redis.call('PEXPIRE', A.occ, math.max(1, tonumber(ARGV[5])))
  occ_forget(A.occ)
elseif redis.call('HGET', A.occ, 'probe') == job then
  redis.call('HDEL', A.occ, 'probe')
  occ_forget(A.occ)
end
-- Back in line at the head of its own tenant and class (urgency 0), behind earlier refusals;
-- one refused already keeps its place.
local score = redis.call('ZSCORE', A.waiters, job)
local rank, b, loose = 1, 0, false
if line then
  rank, b, loose = line.rank, line.bucket, line.loose
elseif score and tonumber(score) >= OFFSET then
  rank, b = parts(tonumber(score))
  loose = redis.call('ZSCORE', A.loose, job) ~= false
end
if score then
  local keep = false
  if tonumber(score) >= OFFSET then keep = select(3, parts(tonumber(score))) == 0 end
  if not keep then drop_waiter(A, job) end
end
local place = place_of(A, job, now, add_waiter(A, job, rank, b, 0, loose))
local room = 0
if cooldown_left(A.cool) == 0 then
  room = limit(A.occ, get_cap(A.cap, tonumber(ARGV[6])))
    - redis.call('ZCARD', A.slots) - redis.call('ZCARD', A.waiters)
end
note_room(A, room)
return place
