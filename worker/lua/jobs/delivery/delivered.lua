-- KEYS: undelivered, claim, the outcome's key (Celery's result).  ARGV: job_id.
-- The job stops being owed unless this Redis still shows its caller a state in flight: then
-- the outcome was stored on another master (two masters during a failover, a lost write) and
-- the caller would wait forever, so the job stays owed and its claim goes, for the next report
-- to take. Any outcome (SUCCESS, FAILURE, REVOKED: Celery never overwrites a stored SUCCESS),
-- no key at all (a caller's `forget()` may come first) or a value that is not JSON (another
-- serializer) counts as stored.
local stored = redis.call('GET', KEYS[3])
redis.call('DEL', KEYS[2])
if stored then
  local ok, meta = pcall(cjson.decode, stored)
  if ok and type(meta) == 'table' and type(meta['status']) == 'string' then
    local status = meta['status']
    if status ~= 'SUCCESS' and status ~= 'FAILURE' and status ~= 'REVOKED' then return 0 end
  end
end
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
