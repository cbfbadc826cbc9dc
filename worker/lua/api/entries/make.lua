-- KEYS[1]: the Idempotency-Key's hash (untouched without one), KEYS[2]: the job's entry,
-- KEYS[3]: the tenant's index, KEYS[4]: the callbacks' schedule, KEYS[5..]: each step's chain.
-- ARGV: keyed (1/0), request digest, job id, this request's nonce, now (s), lease (s),
--   key ttl (s), entry ttl (s), index score (ms), index cutoff (ms), callback due ('' none),
--   the chain (JSON), then the entry's field/value pairs.
-- Returns {outcome, job id}: new (the key and the entry written now, together), done, busy (the
-- key's first request is in flight), retake (in flight longer than the lease: its process
-- died or its publish failed; this request carries the job on), mismatch (another request).
-- A nonce equal to the key's is this very request, its reply lost and the call sent again.
local outcome = 'new'
if ARGV[1] == '1' then
  local found = redis.call('HMGET', KEYS[1], 'digest', 'job', 'state', 'at', 'nonce')
  if found[1] then
    if found[1] ~= ARGV[2] then
      return {'mismatch', found[2]}
    end
    if found[3] == 'done' then
      return {'done', found[2]}
    end
    if found[5] ~= ARGV[4] then
      if tonumber(ARGV[5]) - tonumber(found[4] or '0') < tonumber(ARGV[6]) then
        return {'busy', found[2]}
      end
      outcome = 'retake'
    end
    redis.call('HSET', KEYS[1], 'at', ARGV[5], 'nonce', ARGV[4])
  else
    redis.call('HSET', KEYS[1], 'digest', ARGV[2], 'job', ARGV[3], 'state', 'pending',
      'at', ARGV[5], 'nonce', ARGV[4])
    redis.call('EXPIRE', KEYS[1], tonumber(ARGV[7]))
  end
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  local ttl = tonumber(ARGV[8])
  redis.call('HSET', KEYS[2], unpack(ARGV, 13))
  redis.call('EXPIRE', KEYS[2], ttl)
  redis.call('ZADD', KEYS[3], ARGV[9], ARGV[3])
  redis.call('ZREMRANGEBYSCORE', KEYS[3], 0, ARGV[10])
  redis.call('EXPIRE', KEYS[3], ttl)
  for i = 5, #KEYS do
    redis.call('SET', KEYS[i], ARGV[12], 'EX', ttl)
  end
  if ARGV[11] ~= '' then
    redis.call('ZADD', KEYS[4], ARGV[11], ARGV[3])
  end
end
return {outcome, ARGV[3]}
