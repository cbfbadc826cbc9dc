-- A job's progress noted on its record (`RecordStore.note_args`): the field pairs `fields`
-- land only while the record `rec` is SUBMITTED at poll step `seq` and its progress is below
-- `progress` (a stale or duplicate step, or one a webhook overtook, writes nothing).
-- Returns 1 noted, 0 not.
local function note(rec, seq, progress, fields)
  local v = redis.call('HMGET', rec, 'state', 'poll_seq', 'progress')
  if v[1] ~= 'SUBMITTED' or v[2] ~= seq then return 0 end
  if tonumber(v[3] or '0') >= tonumber(progress) then return 0 end
  redis.call('HSET', rec, unpack(fields))
  return 1
end
