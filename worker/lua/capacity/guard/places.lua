local A = account(0)
local now = now_ms()
local out, seen = {}, {}
local function note(job)
  if job and not seen[job] then
    local place = place_of(A, job, now)
    if place > 0 then
      out[#out + 1] = job
      out[#out + 1] = place
    end
    seen[job] = true
  end
end
local n = tonumber(ARGV[1])
if n > 0 then
  for _, job in ipairs(redis.call('ZRANGEBYSCORE', A.waiters, '-inf', '(' .. num(OFFSET),
      'LIMIT', 0, n)) do note(job) end
  for rank, buckets in pairs(lines_by_rank(A)) do
    for _, b in ipairs(buckets) do
      local lo = OFFSET + rank * RANK_SPAN + b * BUCKET_SPAN
      for _, job in ipairs(redis.call('ZRANGEBYSCORE', A.waiters, num(lo),
          '(' .. num(lo + BUCKET_SPAN), 'LIMIT', 0, n)) do note(job) end
    end
  end
end
for i = 2, #ARGV - 1 do note(ARGV[i]) end
return out
