local A = account(0)
defer_usage()
local job = ARGV[1]
local now = now_ms()
settle(A, job, now)
redis.call('ZREM', A.slots, job)
drop_waiter(A, job)
if occ_read(A.occ).probe == job then
  redis.call('HDEL', A.occ, 'probe')
  occ_forget(A.occ)
end
drop_expired(A, now)
local cap = get_cap(A.cap, tonumber(ARGV[3]))
local woken, free = fill(A, cap, now, tonumber(ARGV[2]))
local out = handed(A, woken, free)
flush_usage()
return out
