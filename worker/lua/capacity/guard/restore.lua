local A = account(0)
local now, lease = now_ms(), tonumber(ARGV[1])
local n = 0
for i = 2, #ARGV - 1, 4 do
  local job = ARGV[i]
  if not redis.call('ZSCORE', A.slots, job) then
    grant(A, job, now, lease, tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), ARGV[i + 3] == '1')
    n = n + 1
  end
end
return n
