-- Opens (or opens again) the submission circuit and raises its one alert, in one step, so that
-- several processes refused at once record one refusal.
--
--   closed                      → open; opens = 1; until = now + cooldown
--   open, cooling (now < until) → code, reason and fix refreshed; opens and until kept: the
--                                 refusals of one outage (every line of a batch, every process)
--                                 count once
--   open, due (now >= until)    → a probe was refused: opens + 1; until = now + interval
--   open with another kind      → opens = 1 for the new kind
-- interval: 'account' → cooldown; 'billing' → cooldown · 2^(opens − 1), at most max cooldown.
-- The alert `circuit-open` keeps the time it was first raised.
--
--   Input:
--     KEYS[1] stats hash `<base>:stats`: routes a Cluster client to the store's slot (every key
--             is built from ARGV[1])
--
--     ARGV[1] base: '<prefix>:{req}'
--     ARGV[2] now (ms)
--     ARGV[3] kind: 'account' | 'billing'
--     ARGV[4] code, ARGV[5] reason, ARGV[6] fix: what the refusal said, shown with the circuit
--     ARGV[7] cooldown (ms)
--     ARGV[8] max cooldown (ms)
--     ARGV[9] alert message
--
--   Output:
--     { opens, until (ms, as a string), 1 if the circuit was closed before else 0 }
local base, now, kind, code, reason, fix = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local cooldown, maxCooldown, message = tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9]
local ck = base .. ':circuit'
local state, prevKindRaw, prevOpens, prevUntil, prevSince = unpack(redis.call('HMGET', ck,
  'state', 'kind', 'opens', 'until', 'since'))
local wasOpen = state == 'open'
local prevKind = prevKindRaw or 'billing'
local opens, untilMs, since = 1, now + cooldown, now
if wasOpen then
  since = tonumber(prevSince) or now
  if prevKind == kind and now < (tonumber(prevUntil) or 0) then
    opens, untilMs = tonumber(prevOpens) or 1, tonumber(prevUntil)
  elseif prevKind == kind then
    opens = (tonumber(prevOpens) or 1) + 1
    local wait = cooldown
    if kind == 'billing' then wait = math.min(cooldown * 2 ^ math.min(opens - 1, 30), maxCooldown) end
    untilMs = now + wait
  end
end
redis.call('HSET', ck, 'state', 'open', 'kind', kind, 'code', code, 'reason', reason, 'fix', fix,
  'since', since, 'until', string.format('%d', untilMs), 'opens', opens)
local ak = base .. ':alerts'
local prev = redis.call('HGET', ak, 'circuit-open')
local first = now
if prev then
  local ok, alert = pcall(cjson.decode, prev)
  if ok and type(alert) == 'table' and tonumber(alert.since) then first = tonumber(alert.since) end
end
redis.call('HSET', ak, 'circuit-open',
  cjson.encode({ code = 'circuit-open', message = message, since = first, at = now }))
return { opens, string.format('%d', untilMs), wasOpen and 0 or 1 }
