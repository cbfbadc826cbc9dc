redis.call('DEL', KEYS[2])
if redis.call('HGET', KEYS[1], 'probe') ~= ARGV[1] then return 0 end
redis.call('HINCRBY', KEYS[1], 'cap', 1)
redis.call('HDEL', KEYS[1], 'probe')
redis.call('HSET', KEYS[1], 'next', now_ms())
return 1
