-- Inserts request records, idempotently. One call handles a chunk of requests atomically.
--
--   Input:
--     KEYS[1] stats hash `<base>:stats`: routes a Cluster client to the store's slot (every key
--             is built from ARGV[1])
--
--     ARGV[1] base: '<prefix>:{req}'
--     ARGV[2] now (ms)
--     ARGV[3] replace: '1' replaces a request that is still only queued (and re-opens a canceled
--             one), '0' not
--     ARGV[4] n: number of items
--     then 14 fields per item:
--       custom_id        the record's id
--       feature          the feature it counts for (drain epochs, feature stats)
--       model            the Messages model
--       params           the Messages params JSON (stored apart, in params:<custom_id>)
--       params hash      compared with the stored one: the same request again, or a conflict (a
--                        compacted record keeps its first 24 hex digits: compared with those)
--       meta             the caller's metadata JSON ('' when none)
--       deadline         ms, '' when none
--       partition        the partition it is submitted in
--       group            its pending group (same partition and cache prefix)
--       bytes            serialized size of the batch line
--       realtime allowed '1' when the caller allows the real-time path, '' not
--       state            'queued', or 'realtime' for a request written onto the real-time path
--       notify           webhook endpoint names, joined by ',' ('' when none)
--       estimate         the most it can cost at batch price, nano-dollars (what a budget
--                        reserves when it is claimed; '' counts as 0)
--
--   Output:
--     one code per item:
--     'new'                written
--     'replaced'           written over a queued request (replace, other params) or a canceled
--                          one (replace, any params)
--     'exists:<state>'     a record with the same params hash: nothing changed (<state> is its state;
--                          a canceled request is final and answers exists:canceled unless replace)
--     'conflict:<state>'   a record with other params that is not replaced: nothing changed
--
--   A new or replaced record takes its feature's current drain epoch (`ep`) and counts as open in it.
local base, now, replace, n = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local out = {}
for i = 0, n - 1 do
  local o = 5 + i * 14
  local cid, feature, model, params, phash, meta = ARGV[o], ARGV[o+1], ARGV[o+2], ARGV[o+3], ARGV[o+4], ARGV[o+5]
  local deadline, partition, group, bytes = ARGV[o+6], ARGV[o+7], ARGV[o+8], ARGV[o+9]
  local realtimeAllowed, state, notify, est = ARGV[o+10], ARGV[o+11], ARGV[o+12], ARGV[o+13]
  local rk = base .. ':rec:' .. cid
  local curState, curPhash, curGroup, curPartition, curBytes, curFeature, curEp = unpack(redis.call(
    'HMGET', rk, 'state', 'phash', 'group', 'partition', 'bytes', 'feature', 'ep'))
  local write = false
  if not curState then
    write = true
    out[#out + 1] = 'new'
  elseif replace == '1' and curState == 'canceled' then
    redis.call('ZREM', base .. ':final', cid)
    write = true
    out[#out + 1] = 'replaced'
  elseif curPhash == phash or (curPhash and #curPhash == 24 and string.sub(phash, 1, 24) == curPhash) then
    out[#out + 1] = 'exists:' .. curState
  elseif replace == '1' and curState == 'queued' then
    pendingRemove(base, cid, curGroup, curPartition, tonumber(curBytes))
    openAdd(curFeature, curEp, -1)
    write = true
    out[#out + 1] = 'replaced'
  else
    out[#out + 1] = 'conflict:' .. curState
  end
  if write then
    local ep = epochOf(base, feature)
    redis.call('DEL', rk)
    redis.call('SET', base .. ':params:' .. cid, params)
    redis.call('HSET', rk, 'cid', cid, 'feature', feature, 'model', model, 'phash', phash,
      'meta', meta, 'deadline', deadline, 'partition', partition, 'group', group, 'bytes', bytes,
      'attempt', 1, 'state', state, 'sub', '', 'enq', now, 'ready', now, 'upd', now, 'err', '',
      'hist', '[]', 'rt', realtimeAllowed, 'deaths', 0, 'done', '', 'batch', '', 'ep', ep, 'ntf', notify, 'est', est)
    openAdd(feature, ep, 1)
    -- A queued request replaced stays one request; a new or re-opened one is enqueued once more.
    if curState ~= 'queued' then featureStat(feature, 'enqueued', 1) end
    if state == 'queued' then
      pendingAdd(base, cid, group, partition, tonumber(bytes), now, deadline)
    else
      redis.call('ZADD', base .. ':realtime', now, cid)
    end
  end
end
flushFeatures(base, now)
return out
