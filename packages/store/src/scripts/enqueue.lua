--[[
  Inserts request records, idempotently. One call handles a chunk of requests atomically.

  KEYS: none declared; every key is built from ARGV[1] and shares its hash tag {req}.
  ARGV[1] base       '<prefix>:{req}'
  ARGV[2] now        ms
  ARGV[3] replace    '1' to replace a request that is still only queued
  ARGV[4] n          number of items; then 13 fields per item:
          cid feature model params phash meta deadline partition group bytes rt state ntf
          (state is 'queued', or 'realtime' for the real-time path; ntf: endpoint names, ',')
  Output: one code per item:
    'new' | 'replaced' | 'exists:<state>' (same params: no-op) | 'conflict:<state>' (nothing changed)
  replace re-opens a canceled request too, even with the same params (a canceled request is
  otherwise final: enqueueing it again answers exists:canceled).
  A new record takes its feature's current drain epoch (`ep`) and counts as open in it.
]]
local base, now, replace, n = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local out = {}
for i = 0, n - 1 do
  local o = 5 + i * 13
  local cid, feature, model, params, phash, meta = ARGV[o], ARGV[o+1], ARGV[o+2], ARGV[o+3], ARGV[o+4], ARGV[o+5]
  local deadline, partition, group, bytes, rt, state = ARGV[o+6], ARGV[o+7], ARGV[o+8], ARGV[o+9], ARGV[o+10], ARGV[o+11]
  local ntf = ARGV[o+12]
  local rk = base .. ':rec:' .. cid
  local cur = redis.call('HMGET', rk, 'state', 'phash', 'group', 'partition', 'bytes', 'feature', 'ep')
  local write = false
  if not cur[1] then
    write = true
    out[#out + 1] = 'new'
  elseif replace == '1' and cur[1] == 'canceled' then
    redis.call('ZREM', base .. ':final', cid)
    write = true
    out[#out + 1] = 'replaced'
  elseif cur[2] == phash then
    out[#out + 1] = 'exists:' .. cur[1]
  elseif replace == '1' and cur[1] == 'queued' then
    pendingRemove(base, cid, cur[3], cur[4], tonumber(cur[5]))
    openAdd(cur[6], cur[7], -1)
    write = true
    out[#out + 1] = 'replaced'
  else
    out[#out + 1] = 'conflict:' .. cur[1]
  end
  if write then
    local ep = epochOf(base, feature)
    redis.call('DEL', rk)
    redis.call('SET', base .. ':params:' .. cid, params)
    redis.call('HSET', rk, 'cid', cid, 'feature', feature, 'model', model, 'phash', phash,
      'meta', meta, 'deadline', deadline, 'partition', partition, 'group', group, 'bytes', bytes,
      'attempt', 1, 'state', state, 'sub', '', 'enq', now, 'ready', now, 'upd', now, 'err', '',
      'hist', '[]', 'rt', rt, 'deaths', 0, 'done', '', 'batch', '', 'ep', ep, 'ntf', ntf)
    openAdd(feature, ep, 1)
    -- A queued request replaced stays one request; a new or re-opened one is enqueued once more.
    if cur[1] ~= 'queued' then featureStat(feature, 'enqueued', 1) end
    if state == 'queued' then
      pendingAdd(base, cid, group, partition, tonumber(bytes), now, deadline)
    else
      redis.call('ZADD', base .. ':realtime', now, cid)
    end
  end
end
flushFeatures(base, now)
return out
