--[[
  Sends dead-lettered requests back to the queue with a fresh attempt budget (history is kept).

  ARGV[1] base  ARGV[2] now  ARGV[3..] custom_ids
  Output: one code per id: 'ok' | 'unknown' | 'not-dead:<state>'
  The request is open again in the drain epoch it was enqueued in.
]]
local base, now = ARGV[1], ARGV[2]
local out = {}
for i = 3, #ARGV do
  local cid = ARGV[i]
  local rk = base .. ':rec:' .. cid
  local r = redis.call('HMGET', rk, 'state', 'group', 'partition', 'bytes', 'deadline', 'feature', 'ep')
  if not r[1] then
    out[#out + 1] = 'unknown'
  elseif r[1] ~= 'dead' then
    out[#out + 1] = 'not-dead:' .. r[1]
  else
    redis.call('HSET', rk, 'state', 'queued', 'attempt', 1, 'ready', now, 'upd', now, 'done', '', 'reason', '')
    pendingAdd(base, cid, r[2], r[3], tonumber(r[4]), now, r[5])
    redis.call('ZREM', base .. ':final', cid)
    redis.call('HINCRBY', base .. ':stats', 'dead_retried', 1)
    openAdd(r[6], r[7], 1)
    out[#out + 1] = 'ok'
  end
end
flushFeatures(base, now)
return out
