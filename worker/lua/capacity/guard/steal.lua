local R = account(0)
local now, lease = now_ms(), tonumber(ARGV[1])
drop_expired(R, now)
local own, free = fill(R, get_cap(R.cap, tonumber(ARGV[2])), now, lease)
local donors = {}
for base = 14, #KEYS - 1, 9 do donors[#donors + 1] = account(base) end
local taken = {}
while free > 0 do
  local best, from = nil, nil
  for _, D in ipairs(donors) do
    local w = choose(D, D.loose, now, false)
    if w and (best == nil or w.rank < best.rank
        or (w.rank == best.rank and (w.key < best.key
          or (w.key == best.key and w.score < best.score)))) then
      best, from = w, D
    end
  end
  if not best then break end
  take(from, R, best.job, now, lease)
  taken[#taken + 1] = best.job
  taken[#taken + 1] = from.label
  free = free - 1
end
local out = handed(R, own, free)
table.insert(out, 1, #own)
for _, x in ipairs(taken) do out[#out + 1] = x end
return out
