-- Reads BullMQ job hashes of one queue, leaving out a `data` field larger than a limit (read-only).
-- A list page of Bull Board or the board's overview then costs what it shows, not the size of the
-- requests the jobs carry (a dead letter holds its request's params: megabytes for a long prompt).
-- Unlike the store's scripts, this one works in a queue's slot, not the store's.
--
--   Input:
--     KEYS[1] a key of the queue (`<prefix>:<queue>:meta`): routes a Cluster client to the queue's
--             slot (every key is built from ARGV[1])
--
--     ARGV[1] the queue's key base `<prefix>:<queue>`
--     ARGV[2] most bytes of `data` returned
--     ARGV[3 ..] job ids
--
--   Output:
--     one entry per job id:
--     {}                                   the job is gone
--     { field, value, field, value, ... }  its hash as a flat list; a `data` over ARGV[2] bytes is
--                                          left out and `__dataBytes` carries its length (HSTRLEN:
--                                          the large value is never read)
local base, max = ARGV[1], tonumber(ARGV[2])
local out = {}
for i = 3, #ARGV do
  local key = base .. ':' .. ARGV[i]
  local len = redis.call('HSTRLEN', key, 'data')
  if len <= max then
    out[#out + 1] = redis.call('HGETALL', key)
  else
    local row = {}
    for _, field in ipairs(redis.call('HKEYS', key)) do
      if field ~= 'data' then
        row[#row + 1] = field
        row[#row + 1] = redis.call('HGET', key, field)
      end
    end
    row[#row + 1] = '__dataBytes'
    row[#row + 1] = tostring(len)
    out[#out + 1] = row
  end
end
return out
