-- Reads some fields of many records in one call (read-only): one round trip and one reply for a
-- whole chunk, instead of one pipelined HMGET (and one client-side promise) per record.
--
--   Input:
--     KEYS[1] stats hash `<base>:stats`: routes a Cluster client to the store's slot (every key
--             is built from ARGV[1])
--
--     ARGV[1] base: '<prefix>:{req}'
--     ARGV[2] nf: number of fields
--     ARGV[3 .. 2+nf] field names ('params' is read from the request's params key)
--     ARGV[3+nf ..] custom_ids
--
--   Output:
--     one entry per custom_id:
--     nil (false)     no record: none of the fields exists
--     string          its nf values ('' where a field is absent) joined by \31, which the client
--                     splits: one reply string per record instead of nf
--     array           its nf values, for a record with \31 inside a value (none of our fields
--                     hold control characters, JSON escapes them)
local SEP = '\31'
local base, nf = ARGV[1], tonumber(ARGV[2])
local fields = {}
local paramsAt
for i = 1, nf do
  fields[i] = ARGV[2 + i]
  if fields[i] == 'params' then paramsAt = i end
end
local out = {}
for i = 3 + nf, #ARGV do
  local vals = redis.call('HMGET', base .. ':rec:' .. ARGV[i], unpack(fields))
  -- params live in their own key (a record written before that still holds them in the hash).
  if paramsAt and not vals[paramsAt] then vals[paramsAt] = redis.call('GET', base .. ':params:' .. ARGV[i]) end
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
