local now = now_ms()
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) <= now then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
if ARGV[3] == '1' and redis.call('HGET', KEYS[2], 'probe') == ARGV[1] then
  redis.call('HINCRBY', KEYS[2], 'cap', 1)
  redis.call('HDEL', KEYS[2], 'probe')
  redis.call('HSET', KEYS[2], 'next', now)
end
return 1
