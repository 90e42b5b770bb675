--[[
Rate limits, concurrency and budget reservation for ONE chat request, atomically, in one round trip.
proxy/ratelimit_local.py is the in-process twin of this script: change both together.

Algorithm: two-window sliding counter (alisaifee/limits). Windows are aligned to multiples of W ms of
Redis server time; a counter hash keeps the current window index `w`, its count `cur` and the previous
window's count `prev`. Estimated use = prev * (W - elapsed) / W + cur. A request of cost c fits when
  prev * (W - elapsed) + (cur + c) * W <= limit * W          (integers only: no float drift)
Admission is all-or-nothing: every check runs first, writes happen only if all pass.

KEYS (all share the hash tag {team:<team_id>}, so one Redis Cluster slot):
  1 rl:{team:T}:rpm:team          hash w/cur/prev      requests, team level
  2 rl:{team:T}:rpm:key:K         hash w/cur/prev      requests, key level
  3 rl:{team:T}:tpm:team          hash w/cur/prev      tokens, team level
  4 rl:{team:T}:tpm:key:K         hash w/cur/prev      tokens, key level
  5 rl:{team:T}:conc:team         zset member=request token, score=expiry ms (in-flight requests)
  6 rl:{team:T}:conc:key:K        zset, same
  7 bud:{team:T}:YYYY-MM          hash spent/reserved (nano-USD integers), seeded=1 once initialised
  8 bud:{team:T}:YYYY-MM:inflight zset member="<request token>:<reserved nano-USD>", score=expiry ms
  9 bud:{team:T}:key:K:YYYY-MM    hash, key-level budget
 10 bud:{team:T}:key:K:YYYY-MM:inflight  zset, key-level reservations

ARGV (units in brackets; -1 means "no limit at this level", that key is then not touched):
  1 mode            "admit" | "settle"
  2 now             [ms since epoch] tests only; "" = redis TIME (replicas share the server clock)
  3 W               [ms] window length (60000)
  4..7 limits       rpm team, rpm key [requests]; tpm team, tpm key [tokens]
  8..9 concurrency  team, key [in-flight requests]
 10..11 budgets     team, key [nano-USD]
 12 tokens          [tokens] estimate charged to the TPM windows at admit
 13 reservation     [nano-USD] worst-case cost reserved against the budgets
 14 request token   unique per admission (concurrency and reservation member)
 15 in-flight TTL   [ms] a slot or reservation not settled by then is released (crashed replica)
 16..17 seeds       [nano-USD] spent so far this period per the usage store, for a budget hash that is
                    not initialised yet; "" = unknown: the script then returns status 4 and writes nothing
 18 budget TTL      [ms] lifetime of a budget period's keys
 19 token diff      [tokens] settle only: real - estimate, applied to the CURRENT window (clamped at 0)
 20 real cost       [nano-USD] settle only

Returns (admit): {status, detail, now_ms,
                  rpm_team_cur, rpm_team_prev, rpm_key_cur, rpm_key_prev,
                  tpm_team_cur, tpm_team_prev, tpm_key_cur, tpm_key_prev,
                  inflight_team, inflight_key,
                  team_spent, team_reserved, key_spent, key_reserved}
  status 0 admitted (state after the admission), 1 a rate window is full, 2 concurrency cap reached,
  3 budget spent (state before; detail = 1 team / 2 key for 2 and 3), 4 seed needed ({4, level, now}).
Returns (settle): {0}
]]

local W = tonumber(ARGV[3])
local now
if ARGV[2] ~= '' then
  now = tonumber(ARGV[2])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local win = math.floor(now / W)
local elapsed = now - win * W

-- Lua prints numbers >= 1e14 in exponent form, which Redis rejects as an integer argument.
local function int(x) return string.format('%d', x) end

local function window(key)
  local v = redis.call('HMGET', key, 'w', 'cur', 'prev')
  local w = tonumber(v[1])
  if w == win then return tonumber(v[2]), tonumber(v[3]) end
  if w == win - 1 then return 0, tonumber(v[2]) end
  return 0, 0
end

local function store(key, cur, prev)
  redis.call('HSET', key, 'w', int(win), 'cur', int(cur), 'prev', int(prev))
  redis.call('PEXPIRE', key, int(2 * W))
end

local function fits(limit, cur, prev, cost)
  return prev * (W - elapsed) + (cur + cost) * W <= limit * W
end

-- Reservations of requests never settled (crashed replica) go back to the budget.
local function release_expired(hash, zset)
  local stale = redis.call('ZRANGEBYSCORE', zset, '-inf', now)
  if #stale == 0 then return end
  local total = 0
  for _, member in ipairs(stale) do total = total + tonumber(string.match(member, ':(%d+)$')) end
  redis.call('ZREMRANGEBYSCORE', zset, '-inf', now)
  if redis.call('HINCRBY', hash, 'reserved', int(-total)) < 0 then redis.call('HSET', hash, 'reserved', 0) end
end

local function seed(level)
  local hash, value = KEYS[5 + 2 * level], ARGV[15 + level]
  if redis.call('HEXISTS', hash, 'seeded') == 1 then return true end
  if value == '' then return false end
  redis.call('HINCRBY', hash, 'spent', value)
  redis.call('HSET', hash, 'seeded', 1)
  redis.call('PEXPIRE', hash, ARGV[18])
  return true
end

local function admit()
  local limit = {tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])}
  local tokens = tonumber(ARGV[12])
  local cost = {1, 1, tokens, tokens}
  local conc = {tonumber(ARGV[8]), tonumber(ARGV[9])}
  local budget = {tonumber(ARGV[10]), tonumber(ARGV[11])}
  for level = 1, 2 do
    if budget[level] >= 0 and not seed(level) then return {4, level, now} end
  end
  local out = {0, 0, now, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
  local rate_ok = true
  for i = 1, 4 do
    if limit[i] >= 0 then
      local cur, prev = window(KEYS[i])
      out[2 + 2 * i], out[3 + 2 * i] = cur, prev
      if not fits(limit[i], cur, prev, cost[i]) then rate_ok = false end
    end
  end
  for level = 1, 2 do
    if conc[level] >= 0 then
      redis.call('ZREMRANGEBYSCORE', KEYS[4 + level], '-inf', now)
      out[11 + level] = redis.call('ZCARD', KEYS[4 + level])
    end
    if budget[level] >= 0 then
      local hash = KEYS[5 + 2 * level]
      release_expired(hash, KEYS[6 + 2 * level])
      local v = redis.call('HMGET', hash, 'spent', 'reserved')
      out[12 + 2 * level], out[13 + 2 * level] = tonumber(v[1]) or 0, tonumber(v[2]) or 0
    end
  end
  if not rate_ok then out[1] = 1 return out end
  for level = 1, 2 do
    if conc[level] >= 0 and out[11 + level] >= conc[level] then out[1], out[2] = 2, level return out end
  end
  for level = 1, 2 do
    -- Admit while anything is left, then reserve the worst case: overshoot <= one reservation.
    if budget[level] >= 0 and out[12 + 2 * level] + out[13 + 2 * level] >= budget[level] then
      out[1], out[2] = 3, level
      return out
    end
  end
  for i = 1, 4 do
    if limit[i] >= 0 then
      out[2 + 2 * i] = out[2 + 2 * i] + cost[i]
      store(KEYS[i], out[2 + 2 * i], out[3 + 2 * i])
    end
  end
  local expiry = int(now + tonumber(ARGV[15]))
  for level = 1, 2 do
    if conc[level] >= 0 then
      redis.call('ZADD', KEYS[4 + level], expiry, ARGV[14])
      redis.call('PEXPIRE', KEYS[4 + level], ARGV[15])
      out[11 + level] = out[11 + level] + 1
    end
    if budget[level] >= 0 then
      local hash, zset = KEYS[5 + 2 * level], KEYS[6 + 2 * level]
      out[13 + 2 * level] = redis.call('HINCRBY', hash, 'reserved', ARGV[13])
      redis.call('ZADD', zset, expiry, ARGV[14] .. ':' .. ARGV[13])
      redis.call('PEXPIRE', hash, ARGV[18])
      redis.call('PEXPIRE', zset, ARGV[18])
    end
  end
  return out
end

local function settle()
  local diff = tonumber(ARGV[19])
  for i = 3, 4 do
    if tonumber(ARGV[3 + i]) >= 0 and diff ~= 0 then
      local cur, prev = window(KEYS[i])
      cur = cur + diff
      if cur < 0 then cur = 0 end
      store(KEYS[i], cur, prev)
    end
  end
  for level = 1, 2 do
    if tonumber(ARGV[7 + level]) >= 0 then redis.call('ZREM', KEYS[4 + level], ARGV[14]) end
    if tonumber(ARGV[9 + level]) >= 0 then
      local hash, zset = KEYS[5 + 2 * level], KEYS[6 + 2 * level]
      -- Already released by release_expired (settled after the TTL): only record the spend.
      if redis.call('ZREM', zset, ARGV[14] .. ':' .. ARGV[13]) == 1 then
        if redis.call('HINCRBY', hash, 'reserved', int(-tonumber(ARGV[13]))) < 0 then
          redis.call('HSET', hash, 'reserved', 0)
        end
      end
      redis.call('HINCRBY', hash, 'spent', ARGV[20])
      redis.call('PEXPIRE', hash, ARGV[18])
    end
  end
  return {0}
end

if ARGV[1] == 'settle' then return settle() end
return admit()
