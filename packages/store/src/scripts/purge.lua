--[[
  Retention: deletes up to `limit` request records whose final time (succeeded / dead / canceled) is before the
  cutoff, taking them from the index of final records (`final`: custom_id → final time) oldest
  first. Checked and deleted in one script, so a record retried from its dead letter meanwhile is
  never deleted: retry-dead takes it out of the index. An index entry whose record is no longer
  final, or gone, is dropped; one whose record became final again later is moved to that time.

  ARGV[1] base  ARGV[2] cutoff ms  ARGV[3] limit
  Output: { records deleted, index entries looked at }
]]
local base, cutoff, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local index = base .. ':final'
local cids = redis.call('ZRANGEBYSCORE', index, '-inf', '(' .. cutoff, 'LIMIT', 0, limit)
local deleted = 0
local succeeded = 0
for _, cid in ipairs(cids) do
  local rk = base .. ':rec:' .. cid
  local r = redis.call('HMGET', rk, 'state', 'done')
  local done = tonumber(r[2])
  local final = r[1] == 'succeeded' or r[1] == 'dead' or r[1] == 'canceled'
  if final and done and done < cutoff then
    redis.call('UNLINK', rk, base .. ':params:' .. cid)
    redis.call('ZREM', index, cid)
    deleted = deleted + 1
    if r[1] == 'succeeded' then succeeded = succeeded + 1 end
  elseif final and done then
    redis.call('ZADD', index, done, cid)
  else
    redis.call('ZREM', index, cid)
  end
end
if succeeded > 0 then redis.call('HINCRBY', base .. ':final-count', 'succeeded', -succeeded) end
return { deleted, #cids }
