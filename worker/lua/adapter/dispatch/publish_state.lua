local cur = redis.call('GET', KEYS[1])
if cur then
  local status = string.match(cur, '"status":%s*"(%u+)"')
  if status == 'SUCCESS' or status == 'FAILURE' or status == 'REVOKED' then return 0 end
  -- a WAITING written late (the engine submitted the job meanwhile) never hides SUBMITTED
  if status == 'SUBMITTED' and string.match(ARGV[1], '"status":%s*"WAITING"') then return 0 end
end
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1
