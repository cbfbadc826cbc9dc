local job, ms = ARGV[1], tonumber(ARGV[2])
if ms > cooldown_left(KEYS[5]) then
  redis.call('SET', KEYS[5], '1', 'PX', ms)
end
redis.call('ZREM', KEYS[1], job)
if ARGV[3] == '1' then
  local now = now_ms()
  drop_expired(KEYS[1], now)
  local gap = tonumber(ARGV[4])
  redis.call('DEL', KEYS[6])
  redis.call('HSET', KEYS[6], 'cap', redis.call('ZCARD', KEYS[1]), 'gap', gap, 'next', now + gap)
  redis.call('PEXPIRE', KEYS[6], math.max(1, tonumber(ARGV[5])))
elseif redis.call('HGET', KEYS[6], 'probe') == job then
  redis.call('HDEL', KEYS[6], 'probe')
end
local score = redis.call('ZSCORE', KEYS[2], job)
if score and tonumber(score) >= CLASS_SPAN then
  redis.call('ZREM', KEYS[2], job)
end
enqueue(KEYS[2], KEYS[3], job, 0)
return redis.call('ZRANK', KEYS[2], job) + 1
