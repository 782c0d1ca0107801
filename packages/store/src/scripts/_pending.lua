-- Shared helpers, prepended to every script that touches the pending index.
-- The pending index: pending:<group> ZSET (cid → ready-at), groups ZSET (group → oldest ready-at),
-- group-partition HASH, partition-count / partition-bytes HASH, deadlines ZSET, and queued-est HASH
-- ('<feature>|<partition>' → the estimates of its queued requests, nano-dollars: what enqueue's
-- budget check counts as already promised; read from the record, which holds feature and est).
local function queuedEst(base, cid, partition, sign)
  local feature, est = unpack(redis.call('HMGET', base .. ':rec:' .. cid, 'feature', 'est'))
  local n = tonumber(est) or 0
  if n ~= 0 then
    redis.call('HINCRBY', base .. ':queued-est', (feature or '') .. '|' .. partition, string.format('%d', sign * n))
  end
end

local function pendingAdd(base, cid, group, partition, bytes, ready, deadline)
  if redis.call('ZADD', base .. ':pending:' .. group, ready, cid) == 1 then queuedEst(base, cid, partition, 1) end
  redis.call('ZADD', base .. ':groups', 'LT', ready, group)
  redis.call('HSET', base .. ':group-partition', group, partition)
  redis.call('HINCRBY', base .. ':partition-count', partition, 1)
  redis.call('HINCRBY', base .. ':partition-bytes', partition, bytes)
  if deadline and deadline ~= '' then
    redis.call('ZADD', base .. ':deadlines', deadline, cid)
  end
end

-- Re-scores a group after members left it: its oldest ready-at, or gone when empty.
local function groupRescore(base, group)
  local first = redis.call('ZRANGE', base .. ':pending:' .. group, 0, 0, 'WITHSCORES')
  if first[1] then
    redis.call('ZADD', base .. ':groups', first[2], group)
  else
    redis.call('ZREM', base .. ':groups', group)
    redis.call('HDEL', base .. ':group-partition', group)
  end
end

-- The delayed index (delayed ZSET cid → ready-at): queued requests put back with a ready time
-- in the future, so Bull Board can count and page them without walking every group.
local function delayedAdd(base, cid, ready, now)
  if tonumber(ready) > tonumber(now) then redis.call('ZADD', base .. ':delayed', ready, cid) end
end

local function pendingRemove(base, cid, group, partition, bytes)
  local removed = redis.call('ZREM', base .. ':pending:' .. group, cid)
  redis.call('ZREM', base .. ':deadlines', cid)
  redis.call('ZREM', base .. ':delayed', cid)
  if removed == 1 then
    queuedEst(base, cid, partition, -1)
    redis.call('HINCRBY', base .. ':partition-count', partition, -1)
    redis.call('HINCRBY', base .. ':partition-bytes', partition, -bytes)
    groupRescore(base, group)
  end
  return removed
end
