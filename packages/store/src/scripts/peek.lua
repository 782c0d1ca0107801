--[[
  Reads some fields of many records in one call (read-only): one round trip and one reply for a
  whole chunk, instead of one pipelined HMGET (and one client-side promise) per record.

  ARGV[1] base  ARGV[2] nf (number of fields)  ARGV[3 .. 2+nf] field names  ARGV[3+nf ..] custom_ids
  Output: one entry per custom_id: nil when the record does not exist, else its nf values ('' where
  a field is absent) joined by \31 into one string, which the client splits: one reply string per
  record instead of nf. A record with \31 inside a value (none of our fields hold control
  characters, JSON escapes them) comes back as the array of its values instead.
]]
local SEP = '\31'
local base, nf = ARGV[1], tonumber(ARGV[2])
local fields = {}
for i = 1, nf do fields[i] = ARGV[2 + i] end
local out = {}
for i = 3 + nf, #ARGV do
  local vals = redis.call('HMGET', base .. ':rec:' .. ARGV[i], unpack(fields))
  local exists, plain = false, true
  for j = 1, nf do
    local v = vals[j]
    if v then
      exists = true
      if plain and string.find(v, SEP, 1, true) then plain = false end
    else
      vals[j] = ''
    end
  end
  if not exists then
    out[#out + 1] = false
  elseif plain then
    out[#out + 1] = table.concat(vals, SEP, 1, nf)
  else
    out[#out + 1] = vals
  end
end
return out
