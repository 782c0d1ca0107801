-- Counts the requests in each of Bull Board's states without walking the requests: every figure
-- comes from a counter or an index (cost: partitions + open submissions + batches in flight).
-- Read-only.
--
--   Input:
--     KEYS[1] stats hash `<base>:stats`: routes a Cluster client to the store's slot (every key
--             is built from ARGV[1])
--
--     ARGV[1] base: '<prefix>:{req}'
--     ARGV[2] now (ms)
--
--   Output:
--     { queued, delayed, active, succeeded }
--     queued     every queued request (sum of partition-count; waiting = queued - delayed)
--     delayed    queued requests whose ready time is still ahead (delayed index, ZCOUNT)
--     active     members of open submissions and of batches in flight (their member lists; a batch
--                being collected counts its members until it is marked collected), plus real-time
--                calls in progress
--     succeeded  succeeded records kept (final-count; retention takes them off)
local base, now = ARGV[1], ARGV[2]
local queued = 0
local counts = redis.call('HVALS', base .. ':partition-count')
for _, c in ipairs(counts) do queued = queued + tonumber(c) end
local delayed = redis.call('ZCOUNT', base .. ':delayed', '(' .. now, '+inf')
local active = redis.call('ZCARD', base .. ':realtime')
local seen = {}
local function members(sid)
  if sid and sid ~= '' and not seen[sid] then
    seen[sid] = true
    active = active + redis.call('LLEN', base .. ':sub:' .. sid .. ':m')
  end
end
for _, bid in ipairs(redis.call('SMEMBERS', base .. ':inflight')) do
  members(redis.call('HGET', base .. ':batch:' .. bid, 'sub'))
end
for _, sid in ipairs(redis.call('SMEMBERS', base .. ':subs-open')) do members(sid) end
local succeeded = tonumber(redis.call('HGET', base .. ':final-count', 'succeeded') or '0')
return { queued, delayed, active, succeeded }
