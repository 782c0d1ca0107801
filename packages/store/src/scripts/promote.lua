--[[
  Makes queued requests in backoff ready now (Bull Board's "promote"): the ready time becomes now,
  the request moves to the front of its group's ready members and leaves the delayed index. Only a
  queued request whose ready time is ahead is touched; nothing else about it changes. Whatever the
  answer, the id leaves the delayed index, so "promote all" always ends.

  ARGV[1] base  ARGV[2] now  ARGV[3..] custom_ids
  Output: one code per id: 'ok' | 'unknown' | 'ready' (already ready) | 'not-queued:<state>'
]]
local base, now = ARGV[1], ARGV[2]
local out = {}
for i = 3, #ARGV do
  local cid = ARGV[i]
  local rk = base .. ':rec:' .. cid
  local r = redis.call('HMGET', rk, 'state', 'group', 'ready')
  if not r[1] then
    redis.call('ZREM', base .. ':delayed', cid) -- a stale entry, if any
    out[#out + 1] = 'unknown'
  elseif r[1] ~= 'queued' then
    redis.call('ZREM', base .. ':delayed', cid)
    out[#out + 1] = 'not-queued:' .. r[1]
  elseif tonumber(r[3]) <= tonumber(now) then
    redis.call('ZREM', base .. ':delayed', cid)
    out[#out + 1] = 'ready'
  else
    redis.call('HSET', rk, 'ready', now, 'upd', now)
    redis.call('ZADD', base .. ':pending:' .. r[2], now, cid)
    redis.call('ZADD', base .. ':groups', 'LT', now, r[2])
    redis.call('ZREM', base .. ':delayed', cid)
    out[#out + 1] = 'ok'
  end
end
return out
