-- A stored state this one must not replace: a final one, or SUBMITTED for a WAITING written late
-- (the engine submitted the job meanwhile).
local function stays(cur)
  local status = string.match(cur, '"status":%s*"(%u+)"')
  if status == 'SUCCESS' or status == 'FAILURE' or status == 'REVOKED' then return true end
  return status == 'SUBMITTED' and string.match(ARGV[1], '"status":%s*"WAITING"') ~= nil
end

local function set(call, ...)
  if tonumber(ARGV[2]) > 0 then return call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2], ...) end
  return call('SET', KEYS[1], ARGV[1], ...)
end

-- With the job's record as a second key, its progress note first (note_fn.lua): nothing shows
-- when the record refused it (a stale poll step).
if #KEYS > 1 and note(KEYS[2], ARGV[3], ARGV[4], {unpack(ARGV, 5)}) == 0 then return 0 end

-- Write and read the state before in one command (SET ... GET, Redis 6.2+); one that must stay
-- is put back at once (the script is atomic: nobody sees the swap), with the expiry just set.
local cur = set(redis.pcall, 'GET')
if type(cur) == 'table' and cur.err then
  -- an older Redis: read first, then write
  cur = redis.call('GET', KEYS[1])
  if cur and stays(cur) then return 0 end
  set(redis.call)
elseif cur and stays(cur) then
  redis.call('SET', KEYS[1], cur, 'KEEPTTL')
  return 0
end
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1
