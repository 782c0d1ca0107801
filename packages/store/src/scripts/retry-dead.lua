-- Sends dead-lettered requests back to the queue with a fresh attempt budget (history is kept).
-- The request is open again in the drain epoch it was enqueued in.
--
--   Input:
--     KEYS[1] stats hash `<base>:stats`: routes a Cluster client to the store's slot (every key
--             is built from ARGV[1])
--
--     ARGV[1] base: '<prefix>:{req}'
--     ARGV[2] now (ms)
--     ARGV[3..] custom_ids
--
--   Output:
--     one code per custom_id:
--     'ok'                queued again, ready now, attempt 1
--     'unknown'           no record of that custom_id
--     'not-dead:<state>'  the record is not dead (<state> is its state): nothing changed
local base, now = ARGV[1], ARGV[2]
local out = {}
for i = 3, #ARGV do
  local cid = ARGV[i]
  local rk = base .. ':rec:' .. cid
  local state, group, partition, bytes, deadline, feature, ep = unpack(redis.call('HMGET', rk,
    'state', 'group', 'partition', 'bytes', 'deadline', 'feature', 'ep'))
  if not state then
    out[#out + 1] = 'unknown'
  elseif state ~= 'dead' then
    out[#out + 1] = 'not-dead:' .. state
  else
    redis.call('HSET', rk, 'state', 'queued', 'attempt', 1, 'ready', now, 'upd', now, 'done', '', 'reason', '')
    pendingAdd(base, cid, group, partition, tonumber(bytes), now, deadline)
    redis.call('ZREM', base .. ':final', cid)
    redis.call('HINCRBY', base .. ':stats', 'dead_retried', 1)
    openAdd(feature, ep, 1)
    out[#out + 1] = 'ok'
  end
end
flushFeatures(base, now)
return out
