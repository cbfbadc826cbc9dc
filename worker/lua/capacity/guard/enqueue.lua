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
note_room(A, room - redis.call('ZCARD', A.waiters))
if place <= room and held_back == 0 then return {0, place, 1, 0} end
local out = {0, math.max(place - math.max(room, 0), 1), 0, held_back}
if ARGV[6] == '1' then
  for _, label in ipairs(redis.call('SMEMBERS', ROOMY)) do
    if label ~= A.label then out[#out + 1] = label end
  end
end
return out
