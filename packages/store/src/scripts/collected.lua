--[[
  Marks a batch's results as applied: it leaves the in-flight set. The first time a batch becomes
  collected, a batch.ended event is written when an endpoint subscribes (id ev-batch-<batch id>).

  ARGV[1] base  ARGV[2] batch id  ARGV[3] now  ARGV[4] counts JSON
  Output: 1 when the batch became collected now, 0 when it already was.
]]
local base, id, now, counts = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local bk = base .. ':batch:' .. id
local b = redis.call('HMGET', bk, 'state', 'partition', 'count')
redis.call('HSET', bk, 'state', 'collected', 'applied', now, 'counts', counts)
redis.call('SREM', base .. ':inflight', id)
if b[1] == 'collected' then return 0 end
emit(base, 'batch.ended', 'ev-batch-' .. id, 'b', id, 'p', b[2] or '', 'k', b[3] or '0', 'cnt', counts,
  'at', now)
return 1
