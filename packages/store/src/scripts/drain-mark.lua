-- Takes a drain mark on a feature: every request of the feature enqueued before this call belongs
-- to an epoch <= the feature's current one, every later one to the next epoch. The mark is drained
-- once no epoch <= its own has a request that is not final (see _final.lua), possibly at once.
--
--   Input:
--     KEYS[1] stats hash `<base>:stats`: routes a Cluster client to the store's slot (every key
--             is built from ARGV[1])
--
--     ARGV[1] base: '<prefix>:{req}'
--     ARGV[2] now (ms)
--     ARGV[3] feature
--
--   Output:
--     { mark id ('dm-<epoch>-<feature>'), epoch (the feature's epoch the mark closes),
--       '1' if drained already else '0' }
--
--   Events:
--     feature.drained (when an endpoint subscribes), id ev-drain-<mark id>
local base, now, feature = ARGV[1], ARGV[2], ARGV[3]
local epoch = tonumber(redis.call('HGET', base .. ':feature-epoch', feature) or '0')
redis.call('HSET', base .. ':feature-epoch', feature, epoch + 1)
local mark = 'dm-' .. epoch .. '-' .. feature
redis.call('HSET', base .. ':drain-marks', mark,
  cjson.encode({ id = mark, feature = feature, epoch = epoch, at = tonumber(now) }))
redis.call('ZADD', base .. ':drain-pending:' .. feature, epoch, mark)
checkDrains(base, feature, now)
local drained = redis.call('ZSCORE', base .. ':drain-pending:' .. feature, mark) == false
return { mark, epoch, drained and '1' or '0' }
