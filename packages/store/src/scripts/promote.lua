-- Makes queued requests in backoff ready now (Bull Board's "promote"): the ready time becomes now,
-- the request moves to the front of its group's ready members and leaves the delayed index. Only a
-- queued request whose ready time is ahead is touched; nothing else about it changes. Whatever the
-- answer, the id leaves the delayed index, so "promote all" always ends.
--
--   Input:
--     KEYS[1] stats hash `<base>:stats`: routes a Cluster client to the store's slot (every key
--             is built from ARGV[1])
--
--     ARGV[1] base: '<prefix>:{req}'
--     ARGV[2] now (ms)
--     ARGV[3..] custom_ids
--
--   Output:
--     one code per custom_id:
--     'ok'                  ready now
--     'unknown'             no record of that custom_id
--     'ready'               queued and ready already: nothing changed
--     'not-queued:<state>'  the record is not queued (<state> is its state): nothing changed
local base, now = ARGV[1], ARGV[2]
local out = {}
for i = 3, #ARGV do
  local cid = ARGV[i]
  local rk = base .. ':rec:' .. cid
  local state, group, ready = unpack(redis.call('HMGET', rk, 'state', 'group', 'ready'))
  if not state then
    redis.call('ZREM', base .. ':delayed', cid) -- a stale entry, if any
    out[#out + 1] = 'unknown'
  elseif state ~= 'queued' then
    redis.call('ZREM', base .. ':delayed', cid)
    out[#out + 1] = 'not-queued:' .. state
  elseif tonumber(ready) <= tonumber(now) then
    redis.call('ZREM', base .. ':delayed', cid)
    out[#out + 1] = 'ready'
  else
    redis.call('HSET', rk, 'ready', now, 'upd', now)
    redis.call('ZADD', base .. ':pending:' .. group, now, cid)
    redis.call('ZADD', base .. ':groups', 'LT', now, group)
    redis.call('ZREM', base .. ':delayed', cid)
    out[#out + 1] = 'ok'
  end
end
return out
