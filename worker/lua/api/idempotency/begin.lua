-- KEYS[1]: the key's hash. ARGV: request digest, job id, now (s), lease (s), ttl (s).
-- Returns {outcome, job id}: new (written now), done, busy (its first request is in flight),
-- retake (in flight longer than the lease: its process died, this request carries it on),
-- mismatch (the key was used with another request).
local found = redis.call('HMGET', KEYS[1], 'digest', 'job', 'state', 'at')
if not found[1] then
  redis.call('HSET', KEYS[1], 'digest', ARGV[1], 'job', ARGV[2], 'state', 'pending', 'at', ARGV[3])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
  return {'new', ARGV[2]}
end
if found[1] ~= ARGV[1] then
  return {'mismatch', found[2]}
end
if found[3] == 'done' then
  return {'done', found[2]}
end
if tonumber(ARGV[3]) - tonumber(found[4] or '0') < tonumber(ARGV[4]) then
  return {'busy', found[2]}
end
redis.call('HSET', KEYS[1], 'at', ARGV[3])
return {'retake', found[2]}
