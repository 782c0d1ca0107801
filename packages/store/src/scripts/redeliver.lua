--[[
  Points succeeded records at a new delivery job, when the job they name never came to exist (a
  collector died between applying results and adding their job). Compare-and-set per record: only
  a record still naming the expected job moves, so two collectors repairing at once cannot both
  deliver a result.

  ARGV[1] base  ARGV[2] the new job id  then pairs: custom_id, the job id it must still name
  Output: '1' (moved) or '0' per pair, joined by ','
]]
local base, job = ARGV[1], ARGV[2]
local out = {}
for i = 3, #ARGV, 2 do
  local rk = base .. ':rec:' .. ARGV[i]
  local r = redis.call('HMGET', rk, 'state', 'dlv')
  if r[1] == 'succeeded' and (r[2] or '') == ARGV[i + 1] then
    redis.call('HSET', rk, 'dlv', job)
    out[#out + 1] = '1'
  else
    out[#out + 1] = '0'
  end
end
return table.concat(out, ',')
