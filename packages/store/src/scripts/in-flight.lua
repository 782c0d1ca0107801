-- What Nightshift has in the API's processing queue (read-only), for admission: the requests of
-- batches in flight whose end the collector has not seen yet (batch state 'submitted', status not
-- 'ended'), and of open submissions in state 'creating', whose create may have gone through (a
-- create whose answer was lost, a batcher killed mid-create: counted until recovery settles them).
-- Open submissions still 'claiming' count too (claim.lua keeps their count): their create is next,
-- and a flush that lost its lock mid-claim still sends it, so the flush that took the lock over
-- must leave room for it (until recovery releases it, past its lease).
--
--   Input:
--     KEYS[1] stats hash `<base>:stats`: routes a Cluster client to the store's slot (every key
--             is built from ARGV[1])
--
--     ARGV[1] base: '<prefix>:{req}'
--
--   Output:
--     { requests, batches, creating, claiming }: the requests counted, the batches they are in,
--     and the open submissions in 'creating' and in 'claiming' counted with them
local base = ARGV[1]
local requests, batches, creating, claiming = 0, 0, 0, 0
for _, id in ipairs(redis.call('SMEMBERS', base .. ':inflight')) do
  local state, status, count = unpack(redis.call('HMGET', base .. ':batch:' .. id, 'state', 'status', 'count'))
  if state == 'submitted' and status ~= 'ended' then
    requests = requests + (tonumber(count) or 0)
    batches = batches + 1
  end
end
for _, sid in ipairs(redis.call('SMEMBERS', base .. ':subs-open')) do
  local state, count = unpack(redis.call('HMGET', base .. ':sub:' .. sid, 'state', 'count'))
  if state == 'creating' or state == 'claiming' then
    requests = requests + (tonumber(count) or 0)
    if state == 'creating' then creating = creating + 1 else claiming = claiming + 1 end
  end
end
return { requests, batches, creating, claiming }
