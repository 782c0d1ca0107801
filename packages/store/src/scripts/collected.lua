-- Marks a batch's results as applied: state 'collected', out of the in-flight set. The first time
-- a batch becomes collected, a batch.ended event is written.
--
--   Input:
--     KEYS[1] stats hash `<base>:stats`: routes a Cluster client to the store's slot (every key
--             is built from ARGV[1])
--
--     ARGV[1] base: '<prefix>:{req}'
--     ARGV[2] batch id
--     ARGV[3] now (ms): the batch's applied time
--     ARGV[4] counts JSON (what its results came to)
--
--   Output:
--     1 the batch became collected now
--     0 it was collected already (applied time and counts are written again, no event)
--
--   Events:
--     batch.ended (when an endpoint subscribes), id ev-batch-<batch id>
local base, id, now, counts = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local bk = base .. ':batch:' .. id
local state, partition, count = unpack(redis.call('HMGET', bk, 'state', 'partition', 'count'))
redis.call('HSET', bk, 'state', 'collected', 'applied', now, 'counts', counts)
redis.call('SREM', base .. ':inflight', id)
if state == 'collected' then return 0 end
emit(base, 'batch.ended', 'ev-batch-' .. id, 'b', id, 'p', partition or '', 'k', count or '0', 'cnt', counts,
  'at', now)
return 1
