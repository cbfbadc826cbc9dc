local now = now_ms()
drop_expired(KEYS[1], now)
if cooldown_left(KEYS[5]) > 0 then return {} end
local cap = get_cap(KEYS[4], tonumber(ARGV[2]))
return fill(KEYS[1], KEYS[2], cap, now, tonumber(ARGV[1]), KEYS[6])
