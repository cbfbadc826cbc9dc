local now = now_ms()
drop_expired(KEYS[1], now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return {} end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
local cap = get_cap(KEYS[4], tonumber(ARGV[3]))
local e = occ_cap(KEYS[6]) or cap
if e > cap then e = cap end
local gap = tonumber(ARGV[4])
local nxt = occ_read(KEYS[6]).next
local probe = occ_read(KEYS[6]).probe
redis.call('HSET', KEYS[6], 'cap', math.max(e - 1, 0), 'gap', gap, 'next', math.max(nxt, now + gap))
if probe == ARGV[1] then redis.call('HDEL', KEYS[6], 'probe') end
occ_forget(KEYS[6])
local lapse = math.max(1, tonumber(ARGV[5]))
if redis.call('PTTL', KEYS[6]) < lapse then redis.call('PEXPIRE', KEYS[6], lapse) end
if cooldown_left(KEYS[5]) > 0 then return {} end
return fill(KEYS[1], KEYS[2], cap, now, tonumber(ARGV[2]), KEYS[6])
