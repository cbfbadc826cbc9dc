-- KEYS: undelivered, claim, the outcome's key (Celery's result).  ARGV: job_id, status.
-- The job stops being owed only where its outcome is stored: a result key holding another
-- state (or none) means the store went to another master (a split brain, a lost write), so
-- the job stays owed and its claim goes, for the next report to take.  A value that is not
-- JSON (another serializer) cannot be read here and is trusted.
local stored = redis.call('GET', KEYS[3])
local here = stored ~= false
if here then
  local ok, meta = pcall(cjson.decode, stored)
  if ok and type(meta) == 'table' and meta['status'] ~= ARGV[2] then here = false end
end
redis.call('DEL', KEYS[2])
if not here then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
