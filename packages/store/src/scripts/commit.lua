--[[
  Records that a submission became a Message Batch (right after batches.create returned, or when
  recovery adopted a batch found at the API). Always records the batch, even if the submission was
  released meanwhile: a paid batch must never be unknown.

  ARGV[1] base  ARGV[2] submission id  ARGV[3] batch id  ARGV[4] now
  ARGV[5] count ARGV[6] bytes ARGV[7] partition ARGV[8] reason ARGV[9] created ARGV[10] expires
  ARGV[11] status ARGV[12] origin ('' | 'adopted'; becomes 'duplicate' when the submission already has a batch)
  Output: the submission's state before the call ('claiming' | 'creating' | 'submitted' | 'released' | '')
  or 'known' when the batch was already recorded (nothing changed).
]]
local base, sid, bid, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local bk = base .. ':batch:' .. bid
if redis.call('EXISTS', bk) == 1 then return 'known' end
local sk = base .. ':sub:' .. sid
local before = redis.call('HGET', sk, 'state') or ''
local origin = ARGV[12]
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
redis.call('HSET', bk, 'id', bid, 'sub', sid, 'state', 'submitted', 'status', ARGV[11], 'count', ARGV[5],
  'bytes', ARGV[6], 'partition', ARGV[7], 'reason', ARGV[8], 'submitted', now, 'created', ARGV[9],
  'expires', ARGV[10], 'ended', '', 'applied', '', 'counts', '', 'origin', origin)
redis.call('ZADD', base .. ':batches', now, bid)
redis.call('SADD', base .. ':inflight', bid)
redis.call('HINCRBY', base .. ':stats', 'batches', 1)
if origin == 'duplicate' then redis.call('HINCRBY', base .. ':stats', 'duplicate_batches', 1) end
return before
