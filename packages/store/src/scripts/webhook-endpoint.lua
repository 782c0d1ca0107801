-- Writes (or deletes) one webhook endpoint and recomputes webhook-subs (event type → enabled
-- endpoints subscribing) in the same call, so the scripts that write events never miss an endpoint
-- that is registered, nor keep writing for one that is gone or disabled.
--
--   Input:
--     KEYS[1] stats hash `<base>:stats`: routes a Cluster client to the store's slot (every key
--             is built from ARGV[1])
--
--     ARGV[1] base: '<prefix>:{req}'
--     ARGV[2] endpoint name
--     ARGV[3] endpoint JSON, or '' to delete it (and its health hash)
--     ARGV[4] mode: 'new' writes only if the name is free (registration); 'exists' only if it is
--             taken (update); anything else writes in any case
--
--   Output:
--     1 written / deleted
--     0 not: the name is taken ('new'), unknown ('exists'), or there was nothing to delete
--     (webhook-subs is recomputed in every case)
local base, name, json, mode = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local ek = base .. ':webhook-endpoints'
local changed
if json == '' then
  changed = redis.call('HDEL', ek, name)
  redis.call('DEL', base .. ':webhook-health:' .. name)
elseif mode == 'new' then
  changed = redis.call('HSETNX', ek, name, json)
elseif mode == 'exists' and redis.call('HEXISTS', ek, name) == 0 then
  changed = 0
else
  redis.call('HSET', ek, name, json)
  changed = 1
end
local counts = {}
for _, raw in ipairs(redis.call('HVALS', ek)) do
  local e = cjson.decode(raw)
  if e.enabled then
    for _, t in ipairs(e.events) do counts[t] = (counts[t] or 0) + 1 end
  end
end
local sk = base .. ':webhook-subs'
redis.call('DEL', sk)
for t, n in pairs(counts) do redis.call('HSET', sk, t, n) end
return changed
