local now = now_ms()
local lim = limit(KEYS[6], get_cap(KEYS[4], tonumber(ARGV[1])))
return lim - redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf') - redis.call('ZCARD', KEYS[2])
