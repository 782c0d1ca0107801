-- Points succeeded records at a new delivery job, when the job they name never came to exist (a
-- collector died between applying results and adding their job). Compare-and-set per record: only
-- a record still naming the expected job moves, so two collectors repairing at once cannot both
-- deliver a result.
--
--   Input:
--     KEYS[1] stats hash `<base>:stats`: routes a Cluster client to the store's slot (every key
--             is built from ARGV[1])
--
--     ARGV[1] base: '<prefix>:{req}'
--     ARGV[2] the new delivery job id
--     then pairs: ARGV[3] custom_id, ARGV[4] the job id it must still name, ARGV[5] custom_id, ...
--
--   Output:
--     one code per pair, joined by ',' (one reply string):
--     '1' the record is succeeded and named the expected job: it names the new one now
--     '0' anything else (no record, not succeeded, another job, or compacted: its result was
--         delivered already, see delivered.lua): nothing changed
local base, job = ARGV[1], ARGV[2]
local out = {}
for i = 3, #ARGV, 2 do
  local rk = base .. ':rec:' .. ARGV[i]
  local state, delivery, cid = unpack(redis.call('HMGET', rk, 'state', 'dlv', 'cid'))
  if state == 'succeeded' and cid and (delivery or '') == ARGV[i + 1] then
    redis.call('HSET', rk, 'dlv', job)
    out[#out + 1] = '1'
  else
    out[#out + 1] = '0'
  end
end
return table.concat(out, ',')
