-- Claims ready requests of one group into a submission, within a count and byte budget.
-- Only requests whose ready-at <= now are taken (a requeued request waits out its backoff).
-- The submission's member list and the records change in the same call, so a crash leaves
-- either the request queued or claimed by a submission that recovery will resolve. An index
-- entry whose record is not queued is dropped from the group. Each request taken reserves its
-- estimated cost (`est`) in every budget covering it (_budget.lua); a request one of them has no
-- room for is left queued and counted as held (ARCHITECTURE.md "Budgets": hold at the claim).
--
--   Input:
--     KEYS[1] stats hash `<base>:stats`: routes a Cluster client to the store's slot (every key
--             is built from ARGV[1])
--
--     ARGV[1] base: '<prefix>:{req}'
--     ARGV[2] group
--     ARGV[3] now (ms)
--     ARGV[4] max count: most requests taken
--     ARGV[5] max bytes: most bytes taken (the requests' bytes plus the overhead below)
--     ARGV[6] submission id (opened before: the records name it, its member list grows)
--     ARGV[7] per-item overhead in bytes, optional (default 0): counted against max bytes for every
--             request taken, e.g. 1 for the ',' that joins the items of a batch body
--     ARGV[8] day: UTC 'yyyy-mm-dd' of now, the budgets' day window (their month: its first 7
--             characters); the client gives it, as scripts have no calendar
--
--   Output:
--     { bytes taken, held, custom_id 1, params 1, custom_id 2, params 2, ... } in claim order
--     (bytes taken is 0 and nothing follows when nothing was taken); held: ready requests left
--     queued because a budget covering them had no room for their estimate
local base, group, now = ARGV[1], ARGV[2], ARGV[3]
local maxCount, maxBytes, sid = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local overhead = tonumber(ARGV[7] or '0') or 0
local day = ARGV[8] or ''
local pk = base .. ':pending:' .. group
local sk = base .. ':sub:' .. sid
local mk = sk .. ':m'
local partition = redis.call('HGET', base .. ':group-partition', group) or ''
local out = { 0, 0 }
local taken, takenBytes, held = 0, 0, 0
local takenEst = {} -- feature → estimates taken out of the queue (queued-est, _pending.lua)
-- Held requests stay at the front of the group's index: read past them, page by page, so that a
-- request behind them that its budgets have room for is still taken; at most `scanLimit` entries
-- are read in one call, so a group whose budget is full costs a bounded read per claim.
local scanLimit, scanned, full = maxCount * 4, 0, false
while taken < maxCount and scanned < scanLimit and not full do
  local ids = redis.call('ZRANGEBYSCORE', pk, '-inf', now, 'LIMIT', held, maxCount - taken)
  if #ids == 0 then break end
  scanned = scanned + #ids
  for _, cid in ipairs(ids) do
    local rk = base .. ':rec:' .. cid
    local state, bytes, inlineParams, feature, est = unpack(redis.call('HMGET', rk, 'state', 'bytes',
      'params', 'feature', 'est'))
    local size = tonumber(bytes)
    local wins = ''
    if state ~= 'queued' then
      redis.call('ZREM', pk, cid) -- stale index entry
    elseif takenBytes + size + overhead * (taken + 1) > maxBytes then
      full = true
      break
    else
      wins = budgetReserve(base, feature or '', partition, tonumber(est) or 0, day)
    end
    if wins == false then
      held = held + 1
    elseif state == 'queued' then
      redis.call('ZREM', pk, cid)
      redis.call('ZREM', base .. ':deadlines', cid)
      redis.call('ZREM', base .. ':delayed', cid)
      redis.call('HSET', rk, 'state', 'claimed', 'sub', sid, 'upd', now)
      if wins ~= '' then redis.call('HSET', rk, 'bres', string.format('%d', tonumber(est) or 0), 'bwin', wins) end
      redis.call('RPUSH', mk, cid)
      out[#out + 1] = cid
      -- params live in their own key; a record written before that still holds them in the hash.
      out[#out + 1] = redis.call('GET', base .. ':params:' .. cid) or inlineParams
      taken = taken + 1
      takenBytes = takenBytes + size
      takenEst[feature or ''] = (takenEst[feature or ''] or 0) + (tonumber(est) or 0)
    end
  end
end
if taken > 0 then
  redis.call('HINCRBY', base .. ':partition-count', partition, -taken)
  redis.call('HINCRBY', base .. ':partition-bytes', partition, -takenBytes)
  redis.call('HINCRBY', sk, 'count', taken)
  redis.call('HINCRBY', sk, 'bytes', takenBytes)
  for f, sum in pairs(takenEst) do
    if sum ~= 0 then
      redis.call('HINCRBY', base .. ':queued-est', f .. '|' .. partition, string.format('%d', -sum))
    end
  end
end
groupRescore(base, group)
budgetFlush(base)
out[1] = takenBytes
out[2] = held
return out
