-- Shared helpers, prepended to every script that opens or finalizes requests (enqueue, apply,
-- retry-dead, cancel) and to the drain-mark and collected scripts:
--
-- * Per-feature progress: feature-open HASH `<feature>|<epoch>` → requests not final yet,
--   feature-epochs:<feature> ZSET of the epochs that still have some, feature-stats HASH of
--   cumulative counts. Changes are summed in Lua tables and written once per script call.
-- * Drain marks: a mark taken at epoch e is drained once no epoch <= e has a request left
--   (drain-pending:<feature> ZSET mark → epoch; drain-marks HASH mark → JSON).
-- * The event outbox (events STREAM): an event is written only when webhook-subs says some enabled
--   endpoint subscribes to its type, in the same script as the outcome it reports.
local subsCache = nil
local function subscribed(base, etype)
  if subsCache == nil then
    subsCache = {}
    local flat = redis.call('HGETALL', base .. ':webhook-subs')
    for i = 1, #flat, 2 do subsCache[flat[i]] = (tonumber(flat[i + 1]) or 0) > 0 end
  end
  return subsCache[etype] == true
end

-- XADD of one event: fields after the type and the deterministic event id (the webhook-id).
local function emit(base, etype, id, ...)
  if subscribed(base, etype) then
    redis.call('XADD', base .. ':events', '*', 't', etype, 'id', id, ...)
  end
end

local epochCache = {}
local function epochOf(base, feature)
  local e = epochCache[feature]
  if e == nil then
    e = redis.call('HGET', base .. ':feature-epoch', feature) or '0'
    epochCache[feature] = e
  end
  return e
end

local openDelta = {}
local openOrder = {}
local function openAdd(feature, ep, n)
  if not ep or ep == '' then return end -- a record of before epochs: not counted
  local k = feature .. '|' .. ep
  if openDelta[k] == nil then
    openDelta[k] = 0
    openOrder[#openOrder + 1] = { k, feature, ep }
  end
  openDelta[k] = openDelta[k] + n
end

local statDelta = {}
local function featureStat(feature, metric, n)
  local k = feature .. '|' .. metric
  statDelta[k] = (statDelta[k] or 0) + n
end

-- Marks of one feature drained by now: every mark whose epoch is below the oldest epoch still open.
local function checkDrains(base, feature, now)
  local pk = base .. ':drain-pending:' .. feature
  if redis.call('EXISTS', pk) == 0 then return end
  local live = redis.call('ZRANGE', base .. ':feature-epochs:' .. feature, 0, 0, 'WITHSCORES')
  local below = live[2] and ('(' .. live[2]) or '+inf'
  local done = redis.call('ZRANGEBYSCORE', pk, '-inf', below)
  for _, mark in ipairs(done) do
    redis.call('ZREM', pk, mark)
    local raw = redis.call('HGET', base .. ':drain-marks', mark)
    local at = ''
    if raw then
      local m = cjson.decode(raw)
      m.drainedAt = tonumber(now)
      at = tostring(m.at or '')
      redis.call('HSET', base .. ':drain-marks', mark, cjson.encode(m))
    end
    emit(base, 'feature.drained', 'ev-drain-' .. mark, 'f', feature, 'm', mark, 'ma', at, 'at', now)
  end
end

-- Writes the summed counts; an epoch whose count reaches 0 is gone, which may drain marks.
local function flushFeatures(base, now)
  local emptied = {}
  for _, e in ipairs(openOrder) do
    local k, feature, ep = e[1], e[2], e[3]
    local d = openDelta[k]
    if d ~= 0 then
      local n = redis.call('HINCRBY', base .. ':feature-open', k, d)
      if n <= 0 then
        redis.call('HDEL', base .. ':feature-open', k)
        redis.call('ZREM', base .. ':feature-epochs:' .. feature, ep)
        emptied[feature] = true
      elseif n == d then
        redis.call('ZADD', base .. ':feature-epochs:' .. feature, tonumber(ep), ep)
      end
    end
  end
  for k, d in pairs(statDelta) do redis.call('HINCRBY', base .. ':feature-stats', k, d) end
  for feature in pairs(emptied) do checkDrains(base, feature, now) end
end
