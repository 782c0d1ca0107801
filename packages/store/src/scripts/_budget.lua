-- Budgets (budgets.ts, ARCHITECTURE.md "Budgets"): the helpers of the scripts that reserve a
-- request's estimated cost (claim.lua), settle it from the real cost (apply.lua: a success) or
-- release it (release.lua, apply.lua: requeue, dead, realtime). A record that holds a reservation
-- names it: `bres` (nano-dollars) and `bwin` ('<budget id>|<window>' of each budget it counts in,
-- joined by ','), so settling needs no budget definition (a budget removed or changed meanwhile
-- still gets its reservation back). Usage is the hash `budget-use`: '<id>|<window>|r' reserved,
-- '<id>|<window>|s' spent, in nano-dollars. Increments are summed in the call and written once by
-- budgetFlush, which every script using these helpers calls before it returns.
local budgetList = nil
local budgetUsed = {}
local budgetDelta = {}

local function budgetsOf(base)
  if budgetList == nil then
    budgetList = {}
    local raw = redis.call('HGETALL', base .. ':budgets')
    for i = 1, #raw, 2 do
      local b = cjson.decode(raw[i + 1])
      budgetList[#budgetList + 1] = { id = raw[i], f = b.feature or '', p = b.partition or '',
        day = b.period == 'day', lim = tonumber(b.lim) or 0 }
    end
  end
  return budgetList
end

local function budgetAdd(field, v)
  budgetDelta[field] = (budgetDelta[field] or 0) + v
end

-- Reserved + spent in one budget window, read once per call and kept up to date in it.
local function budgetUse(base, w)
  local u = budgetUsed[w]
  if u == nil then
    local r, s = unpack(redis.call('HMGET', base .. ':budget-use', w .. '|r', w .. '|s'))
    u = (tonumber(r) or 0) + (tonumber(s) or 0)
    budgetUsed[w] = u
  end
  return u
end

-- The windows ('<id>|<window>') of the budgets covering a request of this feature and partition.
local function budgetWindows(base, feature, partition, day)
  local out = {}
  for _, b in ipairs(budgetsOf(base)) do
    if (b.f == '' or b.f == feature) and (b.p == '' or b.p == partition) then
      out[#out + 1] = { w = b.id .. '|' .. (b.day and day or string.sub(day, 1, 7)), lim = b.lim }
    end
  end
  return out
end

-- Reserves `est` in every budget covering the request, or in none when one of them lacks room.
-- Returns the windows reserved in, joined by ',' ('' when no budget covers it), or false: held.
local function budgetReserve(base, feature, partition, est, day)
  local wins = budgetWindows(base, feature, partition, day)
  if #wins == 0 then return '' end
  for _, x in ipairs(wins) do
    if budgetUse(base, x.w) + est > x.lim then return false end
  end
  local names = {}
  for _, x in ipairs(wins) do
    budgetUsed[x.w] = budgetUsed[x.w] + est
    budgetAdd(x.w .. '|r', est)
    names[#names + 1] = x.w
  end
  return table.concat(names, ',')
end

-- Ends a record's reservation: released, or with `spent` (nano-dollars) settled as spent in the
-- same windows. Returns false when the record held none.
local function budgetSettle(rk, spent)
  local bres, bwin = unpack(redis.call('HMGET', rk, 'bres', 'bwin'))
  if not bwin or bwin == '' then return false end
  local amount = tonumber(bres) or 0
  for w in string.gmatch(bwin, '[^,]+') do
    budgetAdd(w .. '|r', -amount)
    if spent then budgetAdd(w .. '|s', spent) end
  end
  redis.call('HDEL', rk, 'bres', 'bwin')
  return true
end

-- A cost paid without a reservation (the real-time path, a record of before budgets): spent in
-- the current windows of the budgets covering it.
local function budgetSpend(base, feature, partition, cost, day)
  if cost == 0 then return end
  for _, x in ipairs(budgetWindows(base, feature, partition, day)) do budgetAdd(x.w .. '|s', cost) end
end

local function budgetFlush(base)
  for field, v in pairs(budgetDelta) do
    if v ~= 0 then redis.call('HINCRBY', base .. ':budget-use', field, string.format('%d', v)) end
  end
end
