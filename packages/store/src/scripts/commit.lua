-- Records that a submission became a Message Batch (right after batches.create returned, or when
-- recovery adopted a batch found at the API). Always records the batch, even if the submission was
-- released meanwhile: a paid batch must never be unknown. A second batch of a submission that has
-- one (an ambiguous create that did go through) is recorded with origin 'duplicate': only its
-- successes count, the first batch decides the rest.
--
--   Input:
--     KEYS[1] stats hash `<base>:stats`: routes a Cluster client to the store's slot (every key
--             is built from ARGV[1])
--
--     ARGV[1] base: '<prefix>:{req}'
--     ARGV[2] submission id
--     ARGV[3] batch id
--     ARGV[4] now (ms): the batch's submitted time
--     ARGV[5] count: requests in the batch
--     ARGV[6] bytes of the batch body
--     ARGV[7] partition
--     ARGV[8] flush reason
--     ARGV[9] created (ms, the API's created_at)
--     ARGV[10] expires (ms, the API's expires_at)
--     ARGV[11] processing status
--     ARGV[12] origin: '' (created) | 'adopted'; recorded as 'duplicate' when the submission already
--              has another batch
--
--   Output:
--     the submission's state before the call, the batch now recorded:
--     'claiming' | 'creating'  the usual case: the submission becomes submitted with this batch
--     'submitted'              it has another batch already: this one is recorded as a duplicate
--     'released'               it was released meanwhile: the batch is recorded, the submission
--                              stays released
--     ''                       no such submission (an adopted orphan batch): one is written,
--                              submitted with this batch
--     or 'known' when the batch was recorded before: nothing changed
local base, sid, bid, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local count, bytes, partition, reason = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local created, expires, status, origin = ARGV[9], ARGV[10], ARGV[11], ARGV[12]
local bk = base .. ':batch:' .. bid
if redis.call('EXISTS', bk) == 1 then return 'known' end
local sk = base .. ':sub:' .. sid
local before = redis.call('HGET', sk, 'state') or ''
if before ~= 'released' then
  local first = redis.call('HGET', sk, 'batch')
  if first and first ~= '' and first ~= bid then
    -- A second batch for the same submission (an ambiguous create that did go through): it is
    -- recorded and collected, but only its successes count; the first batch decides the rest.
    origin = 'duplicate'
    redis.call('HSET', sk, 'duplicates', (redis.call('HGET', sk, 'duplicates') or '') .. bid .. ',')
  else
    redis.call('HSET', sk, 'state', 'submitted', 'batch', bid, 'resolved', now)
    redis.call('ZADD', base .. ':subs-resolved', now, sid)
  end
  redis.call('SREM', base .. ':subs-open', sid)
end
redis.call('HSET', bk, 'id', bid, 'sub', sid, 'state', 'submitted', 'status', status, 'count', count,
  'bytes', bytes, 'partition', partition, 'reason', reason, 'submitted', now, 'created', created,
  'expires', expires, 'ended', '', 'applied', '', 'counts', '', 'origin', origin)
redis.call('ZADD', base .. ':batches', now, bid)
redis.call('SADD', base .. ':inflight', bid)
redis.call('HINCRBY', base .. ':stats', 'batches', 1)
if origin == 'duplicate' then redis.call('HINCRBY', base .. ':stats', 'duplicate_batches', 1) end
return before
