-- Retention: deletes up to `limit` request records whose final time (succeeded / dead / canceled)
-- is before the cutoff, taking them from the index of final records (`final`: custom_id → final
-- time) oldest first. Checked and deleted in one script, so a record retried from its dead letter
-- meanwhile is never deleted: retry-dead takes it out of the index. An index entry whose record is
-- no longer final, or gone, is dropped; one whose record became final again later is moved to that
-- time. A deleted succeeded record comes off final-count.
--
--   Input:
--     KEYS[1] stats hash `<base>:stats`: routes a Cluster client to the store's slot (every key
--             is built from ARGV[1])
--
--     ARGV[1] base: '<prefix>:{req}'
--     ARGV[2] cutoff (ms): records final before it are deleted
--     ARGV[3] limit: most index entries looked at
--
--   Output:
--     { records deleted (record and params), index entries looked at }
local base, cutoff, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local index = base .. ':final'
local cids = redis.call('ZRANGEBYSCORE', index, '-inf', '(' .. cutoff, 'LIMIT', 0, limit)
local deleted = 0
local succeeded = 0
for _, cid in ipairs(cids) do
  local rk = base .. ':rec:' .. cid
  local state, doneRaw = unpack(redis.call('HMGET', rk, 'state', 'done'))
  local done = tonumber(doneRaw)
  local final = state == 'succeeded' or state == 'dead' or state == 'canceled'
  if final and done and done < cutoff then
    redis.call('UNLINK', rk, base .. ':params:' .. cid)
    redis.call('ZREM', index, cid)
    deleted = deleted + 1
    if state == 'succeeded' then succeeded = succeeded + 1 end
  elseif final and done then
    redis.call('ZADD', index, done, cid)
  else
    redis.call('ZREM', index, cid)
  end
end
if succeeded > 0 then redis.call('HINCRBY', base .. ':final-count', 'succeeded', -succeeded) end
return { deleted, #cids }
