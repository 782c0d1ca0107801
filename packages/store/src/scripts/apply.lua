-- Applies decided outcomes to request records: the one place a request reaches its effect.
-- Each item is guarded by the record's current state, so applying the same result twice (a
-- restart mid-stream, a duplicate batch) changes nothing the second time, and the ledger counts
-- each success once.
--
--   Input:
--     KEYS[1] stats hash `<base>:stats`: routes a Cluster client to the store's slot (every key
--             is built from ARGV[1])
--
--     ARGV[1] base: '<prefix>:{req}'
--     ARGV[2] now (ms)
--     ARGV[3] day: UTC 'yyyy-mm-dd', the ledger written to
--     ARGV[4] n: number of items
--     then 7 fields per item: custom_id, action, guard, and 4 fields whose meaning is the action's
--     (the client sends '' for the ones an action does not use):
--
--       action     guard                 field 4    field 5        field 6        field 7
--       'success'  delivery job id       mode       figures        attempt entry  batch id
--       'requeue'  submission id         ready-at   error JSON     attempt entry  counts attempt
--       'dead'     submission id         reason     error JSON     attempt entry  (unused)
--       'realtime' submission id         (unused)   (unused)       attempt entry  (unused)
--
--     delivery job id  the `{results}` job that delivers the result (kept as the record's dlv)
--     mode             'b' batch | 'r' realtime (the ledger's mode, the stats counter)
--     figures          'in,cw5,cw1h,cr,out,costNano,listNano[,us,usPremiumNano]' (us: 1 when
--                      the API ran it US-only; usPremiumNano: what that added to costNano)
--     attempt entry    JSON appended to the record's history
--     batch id         '' on the real-time path
--     submission id    the submission that must still hold the request; 'realtime' for a
--                      request on the real-time path
--     ready-at         ms; the request is not claimed before
--     counts attempt   '1' counts an attempt, '0' not (a retry the request is not to blame for)
--
--     'success' is accepted while the record is queued, claimed (by any submission) or realtime:
--     a paid success is never thrown away. 'requeue', 'dead' and 'realtime' need state 'claimed'
--     with sub = the submission id, or state 'realtime' when the guard is 'realtime'.
--
--   Output:
--     one code per item, joined by ',' (one reply string instead of one per item):
--     'ok'             applied
--     'unknown'        no record of that custom_id
--     'dup:<state>'    a success for a record already final (<state> succeeded | dead | canceled):
--                      counted as a duplicate result, nothing else changed
--     'stale:<state>'  a requeue / dead / realtime whose guard no longer holds the record (<state>
--                      is the record's state): nothing changed
--     An unknown action is an error reply (a client bug: the items before it stay applied, without
--     their ledger and counters).
--
--   An 'ok' success writes the delivery job id (`dlv`), its cost (`cost`, the 6th figure) and
--   when it wrote a request.succeeded event `whp` = '1' into the record; delivered.lua
--   compacts the record once that job has handed the result over.
--
--   Budgets (_budget.lua): an 'ok' success settles the record's reservation with its real cost
--   (costNano; without a reservation the cost is spent in the budgets covering it today); an 'ok'
--   requeue, death or move to the real-time path releases it.
--
--   Effects of an 'ok' success or death: the request is final (final index, its feature's open
--   count goes down, which may drain marks) and, when an endpoint subscribes, a request.succeeded
--   / request.failed event is written to the outbox in this same call (see _final.lua).
local base, now, day, n = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local ledger = {}
local stats = {}
local function bump(t, k, v) t[k] = (t[k] or 0) + v end
local function appendHist(hist, entry)
  if not hist or hist == '' or hist == '[]' then return '[' .. entry .. ']' end
  return string.sub(hist, 1, -2) .. ',' .. entry .. ']'
end
local out = {}
local succeededKept = 0 -- records that became succeeded here (final-count, for Bull Board)
for i = 0, n - 1 do
  local o = 5 + i * 7
  local cid, action, guard, entry = ARGV[o], ARGV[o+1], ARGV[o+2], ARGV[o+5]
  local rk = base .. ':rec:' .. cid
  local state, sub, attempt, feature, model, group, partition, bytes, deadline, hist, deaths, ep,
    notify, enqueuedAt = unpack(redis.call('HMGET', rk, 'state', 'sub', 'attempt', 'feature', 'model',
      'group', 'partition', 'bytes', 'deadline', 'hist', 'deaths', 'ep', 'ntf', 'enq'))
  if not state then
    out[#out + 1] = 'unknown'
  elseif action == 'success' then
    local delivery, mode, figures, batchId = guard, ARGV[o+3], ARGV[o+4], ARGV[o+6]
    if state == 'queued' or state == 'claimed' or state == 'realtime' then
      if state == 'queued' then pendingRemove(base, cid, group, partition, tonumber(bytes)) end
      -- The 6th figure is what the success cost (nano-dollars): the record keeps it (getStatus).
      local cost = string.match(figures, '^[^,]*,[^,]*,[^,]*,[^,]*,[^,]*,([^,]*)') or ''
      redis.call('HSET', rk, 'state', 'succeeded', 'done', now, 'upd', now, 'batch', batchId, 'err', '',
        'dlv', delivery, 'cost', cost, 'hist', appendHist(hist, entry))
      -- A request.succeeded event is written below (an endpoint subscribes): the webhook role
      -- consuming {results} leaves this record to the dispatcher, which compacts it once the
      -- event's deliveries exist (NIGHTSHIFT_WEBHOOK_CONSUME_RESULTS).
      if subscribed(base, 'request.succeeded') then redis.call('HSET', rk, 'whp', '1') end
      redis.call('ZADD', base .. ':final', now, cid)
      -- A success is never sent again: its params go (a dead request keeps them for a retry).
      redis.call('UNLINK', base .. ':params:' .. cid)
      if state == 'realtime' then redis.call('ZREM', base .. ':realtime', cid) end
      -- Summed per mode|feature|model in a table of numbers: no string is built per figure.
      local key = mode .. '|' .. feature .. '|' .. model .. '|'
      local sums = ledger[key]
      if not sums then
        sums = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }
        ledger[key] = sums
      end
      sums[1] = sums[1] + 1
      local j = 2
      for x in string.gmatch(figures, '[^,]+') do
        sums[j] = sums[j] + tonumber(x)
        j = j + 1
      end
      local costNano = tonumber(cost) or 0
      if not budgetSettle(rk, costNano) then budgetSpend(base, feature, partition, costNano, day) end
      bump(stats, mode == 'r' and 'realtime_succeeded' or 'succeeded', 1)
      succeededKept = succeededKept + 1
      openAdd(feature, ep, -1)
      featureStat(feature, 'succeeded', 1)
      emit(base, 'request.succeeded', 'ev-' .. enqueuedAt .. '-' .. cid .. '-ok', 'c', cid, 'f', feature,
        'p', partition, 'n', notify or '', 'j', delivery, 'b', batchId, 'a', attempt, 'at', now)
      out[#out + 1] = 'ok'
    else
      bump(stats, 'duplicate_results', 1)
      out[#out + 1] = 'dup:' .. state
    end
  else
    local owned = (state == 'claimed' and sub == guard) or (state == 'realtime' and guard == 'realtime')
    if not owned then
      out[#out + 1] = 'stale:' .. state
    elseif action == 'requeue' then
      local readyAt, errJson, countsAttempt = ARGV[o+3], ARGV[o+4], ARGV[o+6]
      local nextAttempt = tonumber(attempt) + (countsAttempt == '1' and 1 or 0)
      redis.call('HSET', rk, 'state', 'queued', 'sub', '', 'attempt', nextAttempt, 'ready', readyAt,
        'upd', now, 'err', errJson, 'hist', appendHist(hist, entry))
      if state == 'realtime' then redis.call('ZREM', base .. ':realtime', cid) end
      pendingAdd(base, cid, group, partition, tonumber(bytes), readyAt, deadline)
      delayedAdd(base, cid, readyAt, now)
      budgetSettle(rk, nil)
      bump(stats, 'requeued', 1)
      out[#out + 1] = 'ok'
    elseif action == 'dead' then
      local reason, errJson = ARGV[o+3], ARGV[o+4]
      local death = tonumber(deaths) + 1
      redis.call('HSET', rk, 'state', 'dead', 'sub', '', 'done', now, 'upd', now, 'err', errJson,
        'reason', reason, 'deaths', death, 'hist', appendHist(hist, entry))
      redis.call('ZADD', base .. ':final', now, cid)
      if state == 'realtime' then redis.call('ZREM', base .. ':realtime', cid) end
      budgetSettle(rk, nil)
      bump(stats, 'dead', 1)
      openAdd(feature, ep, -1)
      featureStat(feature, 'dead', 1)
      if subscribed(base, 'request.failed') then
        local batchId = cjson.decode(entry).batchId
        emit(base, 'request.failed', 'ev-' .. enqueuedAt .. '-' .. cid .. '-dead' .. death, 'c', cid,
          'f', feature, 'p', partition, 'n', notify or '', 'r', reason, 'e', errJson, 'a', attempt,
          'b', type(batchId) == 'string' and batchId or '', 'at', now)
      end
      out[#out + 1] = 'ok'
    elseif action == 'realtime' then
      redis.call('HSET', rk, 'state', 'realtime', 'sub', '', 'upd', now, 'hist', appendHist(hist, entry))
      redis.call('ZADD', base .. ':realtime', now, cid)
      budgetSettle(rk, nil)
      out[#out + 1] = 'ok'
    else
      return redis.error_reply('apply: unknown action ' .. tostring(action))
    end
  end
end
-- 'us' and 'usp' (US-only inference) are written only when not zero: most rows never have them.
local LEDGER_FIELDS = { 'n', 'in', 'cw5', 'cw1h', 'cr', 'out', 'cost', 'list', 'us', 'usp' }
local lk = base .. ':ledger:' .. day
local any = false
for key, sums in pairs(ledger) do
  for f = 1, 10 do
    if f <= 8 or sums[f] ~= 0 then redis.call('HINCRBY', lk, key .. LEDGER_FIELDS[f], sums[f]) end
  end
  any = true
end
if any then redis.call('SADD', base .. ':ledger-days', day) end
for k, v in pairs(stats) do redis.call('HINCRBY', base .. ':stats', k, v) end
if succeededKept > 0 then redis.call('HINCRBY', base .. ':final-count', 'succeeded', succeededKept) end
flushFeatures(base, now)
budgetFlush(base)
return table.concat(out, ',')
