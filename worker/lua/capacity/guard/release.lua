redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if occ_read(KEYS[6]).probe == ARGV[1] then
  redis.call('HDEL', KEYS[6], 'probe')
  occ_forget(KEYS[6])
end
local now = now_ms()
drop_expired(KEYS[1], now)
if cooldown_left(KEYS[5]) > 0 then return {} end
local cap = get_cap(KEYS[4], tonumber(ARGV[3]))
return fill(KEYS[1], KEYS[2], cap, now, tonumber(ARGV[2]), KEYS[6])
