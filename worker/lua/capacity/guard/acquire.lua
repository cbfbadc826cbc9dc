local A = account(0)
local job, urgency = ARGV[1], tonumber(ARGV[2])
local lease, cap = tonumber(ARGV[3]), get_cap(A.cap, tonumber(ARGV[4]))
local rank, b, loose = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7] == '1'
local now = now_ms()
local cool = cooldown_left(A.cool)
drop_expired(A, now)
local holds = redis.call('ZSCORE', A.slots, job)
if holds then
  redis.call('ZADD', A.slots, now + lease, job)
end
local woken, free = fill(A, cap, now, lease)
local others = {}
for _, id in ipairs(woken) do
  if id == job then holds = true else others[#others + 1] = id end
end
local granted, queued, score = 0, 0, nil
if holds then
  granted = 1
  cool = 0
elseif cool == 0 and free > 0 and not capped(b)
    and not redis.call('ZSCORE', A.waiters, job) then
  grant(A, job, now, lease, rank, b, loose)
  granted = 1
elseif cool == 0 and redis.call('ZCARD', A.waiters) == 0
    and probe_due(A.occ, A.slots, cap, now) then
  grant(A, job, now, lease, rank, b, loose)
  mark_probe(A.occ, job, now)
  granted = 1
else
  score = add_waiter(A, job, rank, b, urgency, loose)
  queued = 1
end
local position = 0
if queued == 1 then position = place_of(A, job, now, score) end
local room = 0
if cooldown_left(A.cool) == 0 then
  room = limit(A.occ, cap) - redis.call('ZCARD', A.slots) - redis.call('ZCARD', A.waiters)
end
note_room(A, room)
local out = {granted, queued, cool, position}
for _, id in ipairs(others) do out[#out + 1] = id end
return out
