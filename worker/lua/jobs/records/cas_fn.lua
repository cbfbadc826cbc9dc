-- The record's compare-and-set (`RecordStore.cas`): the record `rec` takes the field pairs
-- `fields` only when every field named in `expect` (JSON: name -> accepted values) holds one
-- of its values; `ends` '1' moves it from the active index to the undelivered one (its
-- outcome is owed to its caller, `job_id`). Returns 1 moved, 0 not as expected, -1 no record.
local function cas(rec, active, undelivered, expect_json, ends, job_id, fields)
  local expect = cjson.decode(expect_json)
  local names = {'state'}
  for name, _ in pairs(expect) do names[#names + 1] = name end
  local values = redis.call('HMGET', rec, unpack(names))
  if values[1] == false then return -1 end
  for i = 2, #names do
    local value = values[i]
    if value == false then value = '' end
    local ok = false
    for _, a in ipairs(expect[names[i]]) do if a == value then ok = true end end
    if not ok then return 0 end
  end
  if #fields > 0 then redis.call('HSET', rec, unpack(fields)) end
  if ends == '1' then
    redis.call('ZREM', active, rec)
    local t = redis.call('TIME')
    redis.call('ZADD', undelivered, tonumber(t[1]) + tonumber(t[2]) / 1000000, job_id)
  end
  return 1
end
