-- What Nightshift has in the API's processing queue (read-only), for admission: the requests of
-- batches in flight whose end the collector has not seen yet (batch state 'submitted', status not
-- 'ended'), and of open submissions in state 'creating', whose create may have gone through (a
-- create whose answer was lost, a batcher killed mid-create: counted until recovery settles them).
-- A submission still 'claiming' has sent nothing and does not count.
--
--   Input:
--     KEYS[1] stats hash `<base>:stats`: routes a Cluster client to the store's slot (every key
--             is built from ARGV[1])
--
--     ARGV[1] base: '<prefix>:{req}'
--
--   Output:
--     { requests, batches, creating }: the requests counted, the batches they are in, and the
--     open submissions in 'creating' counted with them
local base = ARGV[1]
local requests, batches, creating = 0, 0, 0
for _, id in ipairs(redis.call('SMEMBERS', base .. ':inflight')) do
  local state, status, count = unpack(redis.call('HMGET', base .. ':batch:' .. id, 'state', 'status', 'count'))
  if state == 'submitted' and status ~= 'ended' then
    requests = requests + (tonumber(count) or 0)
    batches = batches + 1
  end
end
for _, sid in ipairs(redis.call('SMEMBERS', base .. ':subs-open')) do
  local state, count = unpack(redis.call('HMGET', base .. ':sub:' .. sid, 'state', 'count'))
  if state == 'creating' then
    requests = requests + (tonumber(count) or 0)
    creating = creating + 1
  end
end
return { requests, batches, creating }
