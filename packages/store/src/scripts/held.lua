--[[
  Which members of a submission it still holds (record state 'claimed' with sub = the submission),
  for one range of its member list (read-only). After a results stream nearly every member has
  been applied: answering with the few held ones spares a read of every record by the client.

  ARGV[1] base  ARGV[2] submission id  ARGV[3] start  ARGV[4] stop (LRANGE indexes)
  Output: { members read, held custom_id, ... }
]]
local base, sub = ARGV[1], ARGV[2]
local members = redis.call('LRANGE', base .. ':sub:' .. sub .. ':m', ARGV[3], ARGV[4])
local out = { #members }
for _, cid in ipairs(members) do
  local r = redis.call('HMGET', base .. ':rec:' .. cid, 'state', 'sub')
  if r[1] == 'claimed' and r[2] == sub then out[#out + 1] = cid end
end
return out
