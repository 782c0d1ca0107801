--[[
  Puts a chunk of a submission's members back in the queue (create failed, or recovery found no
  batch). Members that are no longer claimed by this submission are left alone.

  ARGV[1] base  ARGV[2] submission id  ARGV[3] now  ARGV[4] start  ARGV[5] count
  ARGV[6] '1' on the last chunk: mark the submission released.
  ARGV[7] ready-at for released requests ('' keeps each one's own)
  Output: number of requests put back.
]]
local base, sid, now = ARGV[1], ARGV[2], ARGV[3]
local start, count, last, readyAt = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], ARGV[7]
local sk = base .. ':sub:' .. sid
local ids = redis.call('LRANGE', sk .. ':m', start, start + count - 1)
local released = 0
for _, cid in ipairs(ids) do
  local rk = base .. ':rec:' .. cid
  local r = redis.call('HMGET', rk, 'state', 'sub', 'group', 'partition', 'bytes', 'ready', 'deadline')
  if r[1] == 'claimed' and r[2] == sid then
    local ready = readyAt ~= '' and readyAt or r[6]
    redis.call('HSET', rk, 'state', 'queued', 'sub', '', 'upd', now, 'ready', ready)
    pendingAdd(base, cid, r[3], r[4], tonumber(r[5]), ready, r[7])
    delayedAdd(base, cid, ready, now)
    released = released + 1
  end
end
if last == '1' then
  redis.call('HSET', sk, 'state', 'released', 'resolved', now)
  redis.call('ZADD', base .. ':subs-resolved', now, sid)
  redis.call('SREM', base .. ':subs-open', sid)
end
return released
