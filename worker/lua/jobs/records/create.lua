if redis.call('HSETNX', KEYS[1], 'state', ARGV[2]) == 1 then
  if #ARGV > 3 then redis.call('HSET', KEYS[1], unpack(ARGV, 4)) end
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  redis.call('ZADD', KEYS[2], ARGV[3], KEYS[1])
  return {}
end
return redis.call('HGETALL', KEYS[1])
