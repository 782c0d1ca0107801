-- Cancels requests that are still only queued: each leaves the pending index and its counters and
-- becomes final (state 'canceled', in the retention index), all in this one call. A request that
-- is claimed, in a batch, real-time or final already is left alone: its outcome is on its way.
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
--     'ok'                  canceled now
--     'unknown'             no record of that custom_id
--     'canceled'            it was canceled already: nothing changed
--     'not-queued:<state>'  claimed, realtime, succeeded or dead (<state>): nothing changed
--
--   Events:
--     request.canceled (when an endpoint subscribes), id ev-<enq>-<custom_id>-canceled
local base, now = ARGV[1], ARGV[2]
local out = {}
for i = 3, #ARGV do
  local cid = ARGV[i]
  local rk = base .. ':rec:' .. cid
  local state, group, partition, bytes, feature, ep, notify, enqueuedAt = unpack(redis.call('HMGET', rk,
    'state', 'group', 'partition', 'bytes', 'feature', 'ep', 'ntf', 'enq'))
  if not state then
    out[#out + 1] = 'unknown'
  elseif state == 'canceled' then
    out[#out + 1] = 'canceled'
  elseif state ~= 'queued' then
    out[#out + 1] = 'not-queued:' .. state
  else
    pendingRemove(base, cid, group, partition, tonumber(bytes))
    redis.call('HSET', rk, 'state', 'canceled', 'done', now, 'upd', now)
    redis.call('ZADD', base .. ':final', now, cid)
    redis.call('HINCRBY', base .. ':stats', 'canceled', 1)
    openAdd(feature, ep, -1)
    featureStat(feature, 'canceled', 1)
    emit(base, 'request.canceled', 'ev-' .. enqueuedAt .. '-' .. cid .. '-canceled', 'c', cid, 'f', feature,
      'p', partition, 'n', notify or '', 'at', now)
    out[#out + 1] = 'ok'
  end
end
flushFeatures(base, now)
return out
