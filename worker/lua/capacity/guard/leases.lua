local now = now_ms()
local out = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 2, #out, 2 do out[i] = tonumber(out[i]) - now end
return out
