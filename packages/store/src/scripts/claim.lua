--[[
  Claims ready requests of one group into a submission, within a count and byte budget.

  ARGV[1] base  ARGV[2] group  ARGV[3] now  ARGV[4] maxCount  ARGV[5] maxBytes  ARGV[6] submission id
  ARGV[7] per-item overhead in bytes, optional (default 0): counted against maxBytes for every
          request taken, e.g. 1 for the ',' that joins the items of a batch body
  Output: { bytesTaken, cid1, params1, cid2, params2, … }
  Only requests whose ready-at ≤ now are taken (a requeued request waits out its backoff).
  The submission's member list and the records change in the same call, so a crash leaves
  either the request queued or claimed by a submission that recovery will resolve.
]]
local base, group, now = ARGV[1], ARGV[2], ARGV[3]
local maxCount, maxBytes, sid = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local overhead = tonumber(ARGV[7] or '0') or 0
local pk = base .. ':pending:' .. group
local sk = base .. ':sub:' .. sid
local mk = sk .. ':m'
local partition = redis.call('HGET', base .. ':group-partition', group) or ''
local ids = redis.call('ZRANGEBYSCORE', pk, '-inf', now, 'LIMIT', 0, maxCount)
local out = { 0 }
local taken, bytes = 0, 0
for _, cid in ipairs(ids) do
  local rk = base .. ':rec:' .. cid
  local r = redis.call('HMGET', rk, 'state', 'bytes', 'params')
  if r[1] ~= 'queued' then
    redis.call('ZREM', pk, cid) -- stale index entry
  else
    local b = tonumber(r[2])
    if bytes + b + overhead * (taken + 1) > maxBytes then break end
    redis.call('ZREM', pk, cid)
    redis.call('ZREM', base .. ':deadlines', cid)
    redis.call('ZREM', base .. ':delayed', cid)
    redis.call('HSET', rk, 'state', 'claimed', 'sub', sid, 'upd', now)
    redis.call('RPUSH', mk, cid)
    out[#out + 1] = cid
    -- params live in their own key; a record written before that still holds them (r[3]).
    out[#out + 1] = redis.call('GET', base .. ':params:' .. cid) or r[3]
    taken = taken + 1
    bytes = bytes + b
  end
end
if taken > 0 then
  redis.call('HINCRBY', base .. ':partition-count', partition, -taken)
  redis.call('HINCRBY', base .. ':partition-bytes', partition, -bytes)
  redis.call('HINCRBY', sk, 'count', taken)
  redis.call('HINCRBY', sk, 'bytes', bytes)
end
groupRescore(base, group)
out[1] = bytes
return out
