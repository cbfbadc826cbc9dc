-- TTAPI accepted the submit of `job` (`SlotGuard.accepted`): the account's 429 streak
-- (`refusals`) ends and, if the job was the probe above the effective cap, the occupancy hash
-- `occ` raises that cap by one and the next probe may go at once. Returns 1 for the probe.
local function accepted(occ, refusals, job)
  redis.call('DEL', refusals)
  if redis.call('HGET', occ, 'probe') ~= job then return 0 end
  redis.call('HINCRBY', occ, 'cap', 1)
  redis.call('HDEL', occ, 'probe')
  redis.call('HSET', occ, 'next', now_ms())
  return 1
end
