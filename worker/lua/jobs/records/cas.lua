local expect = cjson.decode(ARGV[1])
local names = {'state'}
for name, _ in pairs(expect) do names[#names + 1] = name end
local values = redis.call('HMGET', KEYS[1], unpack(names))
if values[1] == false then return -1 end
for i = 2, #names do
  local value = values[i]
  if value == false then value = '' end
  local ok = false
  for _, a in ipairs(expect[names[i]]) do if a == value then ok = true end end
  if not ok then return 0 end
end
if #ARGV > 3 then redis.call('HSET', KEYS[1], unpack(ARGV, 4)) end
if ARGV[2] == '1' then
  redis.call('ZREM', KEYS[2], KEYS[1])
  local t = redis.call('TIME')
  redis.call('ZADD', KEYS[3], tonumber(t[1]) + tonumber(t[2]) / 1000000, ARGV[3])
end
return 1
