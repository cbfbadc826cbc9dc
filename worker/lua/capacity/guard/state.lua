local now = now_ms()
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES')
local cap = get_cap(KEYS[4], tonumber(ARGV[1]))
local out = {cap, cooldown_left(KEYS[5]), occ_cap(KEYS[6]) or -1, #live / 2}
for i = 1, #live, 2 do
  out[#out + 1] = live[i]
  out[#out + 1] = tonumber(live[i + 1]) - now
end
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do out[#out + 1] = id end
return out
