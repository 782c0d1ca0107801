-- Compacts the records of results a `{results}` job has handed to the service. A request that is
-- final and delivered keeps only what idempotency, getStatus and the board need: its state, the
-- first 24 hex digits (96 bits) of its params hash (exists vs conflict), its attempts (when more
-- than one), its batch, its final time and its cost. Feature, model, metadata, times of enqueue, the attempt history and the
-- delivery job go. A compacted record is the one record without `cid`. Guarded by the job the
-- record names, so a job that did not deliver a result (another job did) compacts nothing, and a
-- second call changes nothing.
--
--   Input:
--     KEYS[1] stats hash `<base>:stats`: routes a Cluster client to the store's slot (every key
--             is built from ARGV[1])
--
--     ARGV[1] base: '<prefix>:{req}'
--     ARGV[2] the `{results}` job that handed the results to the service
--     then ARGV[3..] custom_ids
--
--   Output:
--     one code per custom_id, joined by ',' (one reply string):
--     '1' the record was succeeded and named this job: compacted now
--     '0' anything else (no record, not succeeded, another job named, compacted already): nothing
--         changed
local base, job = ARGV[1], ARGV[2]
local out = {}
for i = 3, #ARGV do
  local rk = base .. ':rec:' .. ARGV[i]
  local state, delivery, phash, attempt, batch, done, cost = unpack(redis.call('HMGET', rk, 'state',
    'dlv', 'phash', 'attempt', 'batch', 'done', 'cost'))
  if state == 'succeeded' and delivery == job then
    local f = { 'state', 'succeeded', 'phash', string.sub(phash or '', 1, 24), 'done', done or '' }
    -- Most requests succeed at their first attempt: attempt 1 is not written (readers default it).
    if attempt and attempt ~= '1' then
      f[#f + 1] = 'attempt'
      f[#f + 1] = attempt
    end
    if batch and batch ~= '' then
      f[#f + 1] = 'batch'
      f[#f + 1] = batch
    end
    if cost and cost ~= '' and cost ~= '0' then
      f[#f + 1] = 'cost'
      f[#f + 1] = cost
    end
    redis.call('DEL', rk)
    redis.call('HSET', rk, unpack(f))
    out[#out + 1] = '1'
  else
    out[#out + 1] = '0'
  end
end
return table.concat(out, ',')
