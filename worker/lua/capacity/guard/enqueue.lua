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
