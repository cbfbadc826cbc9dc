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
if cool == 0 then woken = fill(KEYS[1], KEYS[2], cap, now, lease, KEYS[6]) end
local others = {}
for _, id in ipairs(woken) do
  if id == job then holds = true else others[#others + 1] = id end
end
local granted, queued = 0, 0
if holds then
  granted = 1
  cool = 0
elseif cool == 0 and redis.call('ZCARD', KEYS[2]) == 0
    and redis.call('ZCARD', KEYS[1]) < limit(KEYS[6], cap) then
  redis.call('ZADD', KEYS[1], now + lease, job)
  granted = 1
elseif cool == 0 and redis.call('ZCARD', KEYS[2]) == 0
    and probe_due(KEYS[6], KEYS[1], cap, now) then
  redis.call('ZADD', KEYS[1], now + lease, job)
  mark_probe(KEYS[6], job, now)
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
