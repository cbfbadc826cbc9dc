local out = {}
for i, name in ipairs(ARGV) do
  local n = redis.call('HGET', KEYS[1], name)
  if not n then
    n = redis.call('HINCRBY', KEYS[1], '~next', 1)
    redis.call('HSET', KEYS[1], name, n)
  end
  out[i] = tonumber(n)
end
return out
