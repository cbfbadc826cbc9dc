if ARGV[4] ~= '' then redis.call('SET', KEYS[5], ARGV[4], 'EX', ARGV[5]) end
if not redis.call('SET', KEYS[4], ARGV[2], 'EX', ARGV[3], 'NX') then
  if redis.call('GET', KEYS[4]) ~= ARGV[2] then return {-2, '', 0} end
end
local moved = cas(KEYS[1], KEYS[2], KEYS[3], ARGV[1], '0', ARGV[2], {unpack(ARGV, 7)})
local hooked = ''
if moved == 1 and ARGV[6] == '1' then
  hooked = redis.call('HGET', KEYS[1], 'hooked_job_id') or ''
end
local probe = 0
if moved == 1 and #KEYS > 5 then probe = accepted(KEYS[6], KEYS[7], ARGV[2]) end
return {moved, hooked, probe}
