--[[
  Cancels requests that are still only queued: each leaves the pending index and its counters and
  becomes final (state 'canceled', in the retention index), all in this one call. A request that
  is claimed, in a batch, real-time or final already is left alone: its outcome is on its way.

  ARGV[1] base  ARGV[2] now  ARGV[3..] custom_ids
  Output: one code per id: 'ok' | 'unknown' | 'canceled' (was already) | 'not-queued:<state>'
  Event: request.canceled (when an endpoint subscribes), id ev-<enq>-<cid>-canceled.
]]
local base, now = ARGV[1], ARGV[2]
local out = {}
for i = 3, #ARGV do
  local cid = ARGV[i]
  local rk = base .. ':rec:' .. cid
  local r = redis.call('HMGET', rk, 'state', 'group', 'partition', 'bytes', 'feature', 'ep', 'ntf', 'enq')
  if not r[1] then
    out[#out + 1] = 'unknown'
  elseif r[1] == 'canceled' then
    out[#out + 1] = 'canceled'
  elseif r[1] ~= 'queued' then
    out[#out + 1] = 'not-queued:' .. r[1]
  else
    pendingRemove(base, cid, r[2], r[3], tonumber(r[4]))
    redis.call('HSET', rk, 'state', 'canceled', 'done', now, 'upd', now)
    redis.call('ZADD', base .. ':final', now, cid)
    redis.call('HINCRBY', base .. ':stats', 'canceled', 1)
    openAdd(r[5], r[6], -1)
    featureStat(r[5], 'canceled', 1)
    emit(base, 'request.canceled', 'ev-' .. r[8] .. '-' .. cid .. '-canceled', 'c', cid, 'f', r[5],
      'p', r[3], 'n', r[7] or '', 'at', now)
    out[#out + 1] = 'ok'
  end
end
flushFeatures(base, now)
return out
