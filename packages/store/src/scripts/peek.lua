--[[
  Reads some fields of many records in one call (read-only): one round trip and one reply for a
  whole chunk, instead of one pipelined HMGET (and one client-side promise) per record.

  ARGV[1] base  ARGV[2] nf (number of fields)  ARGV[3 .. 2+nf] field names  ARGV[3+nf ..] custom_ids
  Output: one array per custom_id with the nf values (nil where a field is absent, so all nil when
  the record does not exist).
]]
local base, nf = ARGV[1], tonumber(ARGV[2])
local fields = {}
for i = 1, nf do fields[i] = ARGV[2 + i] end
local out = {}
for i = 3 + nf, #ARGV do
  out[#out + 1] = redis.call('HMGET', base .. ':rec:' .. ARGV[i], unpack(fields))
end
return out
