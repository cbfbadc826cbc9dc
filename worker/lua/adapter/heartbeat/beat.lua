local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local since = ARGV[3]
if since == '' then since = string.format('%.3f', now) end
redis.call('HSET', KEYS[1], ARGV[1], '{"at":' .. string.format('%.3f', now) .. ',"since":' ..
  since .. ',"queues":' .. ARGV[2] .. ',"pid":' .. ARGV[4] .. ',"stale_after":' .. ARGV[5] ..
  ',"labels":' .. ARGV[8] .. '}')
if ARGV[6] == '1' then
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    local ok, beat = pcall(cjson.decode, all[i + 1])
    if not ok or type(beat) ~= 'table' or tonumber(beat.at) == nil
       or tonumber(beat.at) < now - tonumber(ARGV[7]) then
      redis.call('HDEL', KEYS[1], all[i])
    end
  end
end
return since
