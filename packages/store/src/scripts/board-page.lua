-- One page of custom_ids in one of Bull Board's states, read from the indexes (never a walk over
-- every request): what a page view costs grows with the page's offset, not with the backlog.
-- Read-only.
--
--   Input:
--     KEYS[1] stats hash `<base>:stats`: routes a Cluster client to the store's slot (every key
--             is built from ARGV[1])
--
--     ARGV[1] base: '<prefix>:{req}'
--     ARGV[2] now (ms)
--     ARGV[3] state:
--       'waiting'   queued and ready: groups in the order the batcher takes them (oldest ready
--                   first), each group's ready members by ready time; a group is skipped with
--                   one ZCOUNT, so an offset costs the groups it passes
--       'delayed'   queued with a ready time ahead, soonest first (delayed index)
--       'active'    members of batches in flight (oldest first), then of open submissions, then
--                   real-time calls; a member list is skipped with one LLEN
--       'completed' succeeded records, newest first: the final index read newest first, keeping
--                   succeeded ones, looking at no more than the scan cap of entries
--     ARGV[4] start: entries of the state skipped
--     ARGV[5] count: most custom_ids returned
--     ARGV[6] scan cap: most index entries a 'completed' page looks at
--
--   Output:
--     the custom_ids of the page, in order (fewer than count at the end)
--     An unknown state is an error reply.
local base, now, state = ARGV[1], ARGV[2], ARGV[3]
local skip, count, cap = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local out = {}
if count <= 0 then return out end

local function fromList(key, len, range)
  if skip >= len then
    skip = skip - len
    return false
  end
  for _, cid in ipairs(range(skip, count - #out)) do out[#out + 1] = cid end
  skip = 0
  return #out >= count
end

if state == 'waiting' then
  local goff = 0
  while true do
    local groups = redis.call('ZRANGEBYSCORE', base .. ':groups', '-inf', now, 'LIMIT', goff, 100)
    for _, g in ipairs(groups) do
      local pk = base .. ':pending:' .. g
      local done = fromList(pk, redis.call('ZCOUNT', pk, '-inf', now), function(from, n)
        return redis.call('ZRANGEBYSCORE', pk, '-inf', now, 'LIMIT', from, n)
      end)
      if done then return out end
    end
    if #groups < 100 then return out end
    goff = goff + 100
  end
elseif state == 'delayed' then
  return redis.call('ZRANGEBYSCORE', base .. ':delayed', '(' .. now, '+inf', 'LIMIT', skip, count)
elseif state == 'active' then
  local batches = {}
  for _, bid in ipairs(redis.call('SMEMBERS', base .. ':inflight')) do
    local sid, submitted = unpack(redis.call('HMGET', base .. ':batch:' .. bid, 'sub', 'submitted'))
    if sid and sid ~= '' then batches[#batches + 1] = { sid, tonumber(submitted) or 0, bid } end
  end
  table.sort(batches, function(x, y)
    if x[2] == y[2] then return x[3] < y[3] end
    return x[2] < y[2]
  end)
  local subs, seen = {}, {}
  for _, b in ipairs(batches) do
    if not seen[b[1]] then
      seen[b[1]] = true
      subs[#subs + 1] = b[1]
    end
  end
  local open = redis.call('SMEMBERS', base .. ':subs-open')
  table.sort(open)
  for _, sid in ipairs(open) do
    if not seen[sid] then
      seen[sid] = true
      subs[#subs + 1] = sid
    end
  end
  for _, sid in ipairs(subs) do
    local mk = base .. ':sub:' .. sid .. ':m'
    local done = fromList(mk, redis.call('LLEN', mk), function(from, n)
      return redis.call('LRANGE', mk, from, from + n - 1)
    end)
    if done then return out end
  end
  local rk = base .. ':realtime'
  fromList(rk, redis.call('ZCARD', rk), function(from, n)
    return redis.call('ZRANGE', rk, from, from + n - 1)
  end)
  return out
elseif state == 'completed' then
  local pos, looked = 0, 0
  while looked < cap do
    local ids = redis.call('ZREVRANGE', base .. ':final', pos, pos + 199)
    if #ids == 0 then return out end
    for _, cid in ipairs(ids) do
      looked = looked + 1
      if redis.call('HGET', base .. ':rec:' .. cid, 'state') == 'succeeded' then
        if skip > 0 then
          skip = skip - 1
        else
          out[#out + 1] = cid
          if #out >= count then return out end
        end
      end
    end
    pos = pos + 200
  end
  return out
end
return redis.error_reply('board-page: unknown state ' .. tostring(state))
