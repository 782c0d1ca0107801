-- Puts a chunk of a submission's members back in the queue (create failed, or recovery found no
-- batch). Members that are no longer claimed by this submission are left alone. Each one put back
-- gives back its budget reservation (_budget.lua).
--
--   Input:
--     KEYS[1] stats hash `<base>:stats`: routes a Cluster client to the store's slot (every key
--             is built from ARGV[1])
--
--     ARGV[1] base: '<prefix>:{req}'
--     ARGV[2] submission id
--     ARGV[3] now (ms)
--     ARGV[4] start: first index of the chunk in the member list
--     ARGV[5] count: members in the chunk
--     ARGV[6] last: '1' on the last chunk marks the submission released (resolved, out of the
--             open submissions), '0' not
--     ARGV[7] ready-at (ms) for the released requests, '' keeps each one's own
--
--   Output:
--     the number of requests put back (members of the chunk still claimed by the submission)
local base, sid, now = ARGV[1], ARGV[2], ARGV[3]
local start, count, last, readyAt = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], ARGV[7]
local sk = base .. ':sub:' .. sid
local ids = redis.call('LRANGE', sk .. ':m', start, start + count - 1)
local released = 0
for _, cid in ipairs(ids) do
  local rk = base .. ':rec:' .. cid
  local state, sub, group, partition, bytes, ownReady, deadline = unpack(redis.call('HMGET', rk,
    'state', 'sub', 'group', 'partition', 'bytes', 'ready', 'deadline'))
  if state == 'claimed' and sub == sid then
    local ready = readyAt ~= '' and readyAt or ownReady
    redis.call('HSET', rk, 'state', 'queued', 'sub', '', 'upd', now, 'ready', ready)
    pendingAdd(base, cid, group, partition, tonumber(bytes), ready, deadline)
    delayedAdd(base, cid, ready, now)
    budgetSettle(rk, nil)
    released = released + 1
  end
end
if last == '1' then
  redis.call('HSET', sk, 'state', 'released', 'resolved', now)
  redis.call('ZADD', base .. ':subs-resolved', now, sid)
  redis.call('SREM', base .. ':subs-open', sid)
end
budgetFlush(base)
return released
