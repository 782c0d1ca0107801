-- Which members of a submission it still holds (record state 'claimed' with sub = the submission),
-- for one range of its member list (read-only). After a results stream nearly every member has
-- been applied: answering with the few held ones spares a read of every record by the client.
--
--   Input:
--     KEYS[1] stats hash `<base>:stats`: routes a Cluster client to the store's slot (every key
--             is built from ARGV[1])
--
--     ARGV[1] base: '<prefix>:{req}'
--     ARGV[2] submission id
--     ARGV[3] start, ARGV[4] stop: the range of the member list (LRANGE indexes, inclusive)
--
--   Output:
--     { members read, held custom_id, ... }: how many members the range had, then the ones still
--     held, in list order
local base, sid = ARGV[1], ARGV[2]
local members = redis.call('LRANGE', base .. ':sub:' .. sid .. ':m', ARGV[3], ARGV[4])
local out = { #members }
for _, cid in ipairs(members) do
  local state, sub = unpack(redis.call('HMGET', base .. ':rec:' .. cid, 'state', 'sub'))
  if state == 'claimed' and sub == sid then out[#out + 1] = cid end
end
return out
