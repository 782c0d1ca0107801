--[[
  Applies decided outcomes to request records: the one place a request reaches its effect.
  Each item is guarded by the record's current state, so applying the same result twice (a
  restart mid-stream, a duplicate batch) changes nothing the second time, and the ledger counts
  each success once.

  ARGV[1] base  ARGV[2] now  ARGV[3] day (UTC yyyy-mm-dd, for the ledger)  ARGV[4] n
  then 7 fields per item: cid action guardSub a b c d
    action 'success'  guardSub=the `{results}` job that delivers it (kept as the record's dlv)
                      a=mode ('b' batch | 'r' realtime)
                      b='in,cw5,cw1h,cr,out,costNano,listNano[,us,usPremiumNano]' (us: 1 when the
                      API ran it US-only; usPremiumNano: what that added to costNano)
                      c=attempt entry JSON  d=batch id ('' on the real-time path)
           accepted while the record is queued, claimed (any submission) or realtime: a paid
           success is never thrown away.
    action 'requeue'  a=ready-at  b=error JSON  c=attempt entry JSON  d='1' counts an attempt, '0' not
    action 'dead'     a=reason  b=error JSON  c=attempt entry JSON
    action 'realtime' c=attempt entry JSON: the request leaves the batch path for a real-time call
           requeue/dead/realtime need state 'claimed' with sub = guardSub (or 'realtime' when
           guardSub is 'realtime').
  Output: one code per item, joined by ',' (one reply string instead of one per item):
  'ok' | 'unknown' | 'dup:<state>' | 'stale:<state>'
  A success or death that is 'ok' makes the request final: its feature's open count goes down (which
  may drain marks) and, when an endpoint subscribes, a request.succeeded / request.failed event is
  written to the outbox in this same call (see _final.lua).
]]
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
  local cid, action, guard = ARGV[o], ARGV[o+1], ARGV[o+2]
  local a, b, c, d = ARGV[o+3], ARGV[o+4], ARGV[o+5], ARGV[o+6]
  local rk = base .. ':rec:' .. cid
  local r = redis.call('HMGET', rk, 'state', 'sub', 'attempt', 'feature', 'model', 'group', 'partition',
    'bytes', 'deadline', 'hist', 'deaths', 'ready', 'ep', 'ntf', 'enq')
  local state = r[1]
  if not state then
    out[#out + 1] = 'unknown'
  elseif action == 'success' then
    if state == 'queued' or state == 'claimed' or state == 'realtime' then
      if state == 'queued' then pendingRemove(base, cid, r[6], r[7], tonumber(r[8])) end
      redis.call('HSET', rk, 'state', 'succeeded', 'done', now, 'upd', now, 'batch', d, 'err', '',
        'dlv', guard, 'hist', appendHist(r[10], c))
      redis.call('ZADD', base .. ':final', now, cid)
      -- A success is never sent again: its params go (a dead request keeps them for a retry).
      redis.call('UNLINK', base .. ':params:' .. cid)
      if state == 'realtime' then redis.call('ZREM', base .. ':realtime', cid) end
      -- Summed per mode|feature|model in a table of numbers: no string is built per figure.
      local key = a .. '|' .. r[4] .. '|' .. r[5] .. '|'
      local sums = ledger[key]
      if not sums then
        sums = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }
        ledger[key] = sums
      end
      sums[1] = sums[1] + 1
      local j = 2
      for x in string.gmatch(b, '[^,]+') do
        sums[j] = sums[j] + tonumber(x)
        j = j + 1
      end
      bump(stats, a == 'r' and 'realtime_succeeded' or 'succeeded', 1)
      succeededKept = succeededKept + 1
      openAdd(r[4], r[13], -1)
      featureStat(r[4], 'succeeded', 1)
      emit(base, 'request.succeeded', 'ev-' .. r[15] .. '-' .. cid .. '-ok', 'c', cid, 'f', r[4],
        'p', r[7], 'n', r[14] or '', 'j', guard, 'b', d, 'a', r[3], 'at', now)
      out[#out + 1] = 'ok'
    else
      bump(stats, 'duplicate_results', 1)
      out[#out + 1] = 'dup:' .. state
    end
  else
    local owned = (state == 'claimed' and r[2] == guard) or (state == 'realtime' and guard == 'realtime')
    if not owned then
      out[#out + 1] = 'stale:' .. state
    elseif action == 'requeue' then
      local attempt = tonumber(r[3]) + (d == '1' and 1 or 0)
      redis.call('HSET', rk, 'state', 'queued', 'sub', '', 'attempt', attempt, 'ready', a, 'upd', now,
        'err', b, 'hist', appendHist(r[10], c))
      if state == 'realtime' then redis.call('ZREM', base .. ':realtime', cid) end
      pendingAdd(base, cid, r[6], r[7], tonumber(r[8]), a, r[9])
      delayedAdd(base, cid, a, now)
      bump(stats, 'requeued', 1)
      out[#out + 1] = 'ok'
    elseif action == 'dead' then
      local deaths = tonumber(r[11]) + 1
      redis.call('HSET', rk, 'state', 'dead', 'sub', '', 'done', now, 'upd', now, 'err', b,
        'reason', a, 'deaths', deaths, 'hist', appendHist(r[10], c))
      redis.call('ZADD', base .. ':final', now, cid)
      if state == 'realtime' then redis.call('ZREM', base .. ':realtime', cid) end
      bump(stats, 'dead', 1)
      openAdd(r[4], r[13], -1)
      featureStat(r[4], 'dead', 1)
      if subscribed(base, 'request.failed') then
        local batchId = cjson.decode(c).batchId
        emit(base, 'request.failed', 'ev-' .. r[15] .. '-' .. cid .. '-dead' .. deaths, 'c', cid, 'f', r[4],
          'p', r[7], 'n', r[14] or '', 'r', a, 'e', b, 'a', r[3],
          'b', type(batchId) == 'string' and batchId or '', 'at', now)
      end
      out[#out + 1] = 'ok'
    elseif action == 'realtime' then
      redis.call('HSET', rk, 'state', 'realtime', 'sub', '', 'upd', now, 'hist', appendHist(r[10], c))
      redis.call('ZADD', base .. ':realtime', now, cid)
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
return table.concat(out, ',')
