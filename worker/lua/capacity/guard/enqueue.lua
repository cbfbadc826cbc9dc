local A = account(0)
local job = ARGV[1]
local now = now_ms()
drop_expired(A, now)
local cap = get_cap(A.cap, tonumber(ARGV[3]))
local room = 0
if cooldown_left(A.cool) == 0 then
  room = limit(A.occ, cap) - redis.call('ZCARD', A.slots)
  if room < 1 and probe_due(A.occ, A.slots, cap, now) then room = 1 end
end
if redis.call('ZSCORE', A.slots, job) then
  redis.call('RPUSH', KEYS[15], 'submit|' .. job)
  return {1, 0, 1, 0}
end
local b = tonumber(ARGV[5])
local score = add_waiter(A, job, tonumber(ARGV[4]), b, tonumber(ARGV[2]), ARGV[6] == '1')
if room > 0 and redis.call('LLEN', KEYS[15]) == 0 then redis.call('RPUSH', KEYS[15], 'fill') end
local place = place_of(A, job, now, score)
local held_back = capped(b) and 1 or 0
local waits = place > room or held_back == 1
-- A loose job that waits answers the accounts with room, read here, before note_room changes
-- this account's own membership (left out of the answer either way): when this account has no
-- room and is not among them, there is nothing for note_room to take out.
local roomy, listed = nil, true
if waits and ARGV[6] == '1' then
  roomy, listed = redis.call('SMEMBERS', ROOMY), false
  for _, label in ipairs(roomy) do
    if label == A.label then listed = true end
  end
end
local free = room - redis.call('ZCARD', A.waiters)
if free > 0 or listed then note_room(A, free) end
if not waits then return {0, place, 1, 0} end
local out = {0, math.max(place - math.max(room, 0), 1), 0, held_back}
for _, label in ipairs(roomy or {}) do
  if label ~= A.label then out[#out + 1] = label end
end
return out
