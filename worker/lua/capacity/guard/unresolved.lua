local A = account(0)
local job = ARGV[1]
local now = now_ms()
drop_expired(A, now)
if not redis.call('ZSCORE', A.slots, job) then return {0, 0} end
settle(A, job, now)
redis.call('ZREM', A.slots, job)
drop_waiter(A, job)
local cap = get_cap(A.cap, tonumber(ARGV[3]))
local e = occ_cap(A.occ) or cap
if e > cap then e = cap end
local gap = tonumber(ARGV[4])
local nxt = occ_read(A.occ).next
local probe = occ_read(A.occ).probe
redis.call('HSET', A.occ, 'cap', math.max(e - 1, 0), 'gap', gap, 'next', math.max(nxt, now + gap))
if probe == job then redis.call('HDEL', A.occ, 'probe') end
occ_forget(A.occ)
local lapse = math.max(1, tonumber(ARGV[5]))
if redis.call('PTTL', A.occ) < lapse then redis.call('PEXPIRE', A.occ, lapse) end
local woken, free = fill(A, cap, now, tonumber(ARGV[2]))
return handed(A, woken, free)
