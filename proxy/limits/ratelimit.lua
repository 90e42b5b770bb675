--[[
Rate limits, concurrency and budget reservation for ONE chat request, atomically, in one round trip.
proxy/ratelimit_local.py is the in-process twin of this script: change both together.

Algorithm: a sliding window of 1-second buckets. A rate key is a hash holding one field per live
bucket (field = bucket index, floor(now / B)), plus s (their sum), o (oldest live bucket) and n (newest).
A request at bucket b counts the buckets b-N .. b (N = W / B): every admission of the last W ms is
counted, so NO rolling W-ms span ever holds more than the limit. The price of that guarantee: usage is
counted for up to B ms longer than W (conservative by at most one bucket, 1/60 of the window).
Memory per rate key is at most N + 4 hash fields whatever the traffic; eviction is amortised O(1).
Admission is all-or-nothing: every check runs first, writes happen only if all pass (evicting expired
buckets changes no count, so it may happen on a rejected request too).

KEYS (all share the hash tag {team:<team_id>}, so one Redis Cluster slot):
  1 rl:{team:T}:rpm:team          hash of buckets      requests, team level
  2 rl:{team:T}:rpm:key:K         hash of buckets      requests, key level
  3 rl:{team:T}:tpm:team          hash of buckets      tokens, team level
  4 rl:{team:T}:tpm:key:K         hash of buckets      tokens, key level
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
 19 token diff      [tokens] settle only: real - estimate. More is charged to the current bucket (when
                    it became known); a refund comes off the admission's bucket while that still counts
 20 real cost       [nano-USD] settle only
 21 admitted at     [ms] settle only: the `now` the admission returned
 22 B               [ms] bucket length (1000)

Returns (admit): {status, detail, now_ms,
                  then for each rate key 1..4: used, retry_ms, reset_ms,
                  inflight_team, inflight_key,
                  team_spent, team_reserved, key_spent, key_reserved}
  used: counted in the window (after the admission when admitted); retry_ms: when this request would
  fit if nothing else arrives (0 if it fits now, -1 if it never can: cost > limit); reset_ms: when
  every counted unit has left the window (0 if none).
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
local B = tonumber(ARGV[22])
local N = W / B
local bucket = math.floor(now / B)
local lo = bucket - N  -- oldest bucket still counted

-- Lua prints numbers >= 1e14 in exponent form, which Redis rejects as an integer argument.
local function int(x) return string.format('%d', x) end

-- When bucket j leaves the window: once its newest request ('m'..j) is W old. Exact at the window's edge,
-- so a client pacing at the limit is never refused and no wait exceeds W (hashes written before the 'm'
-- fields existed fall back to the bucket's end).
local function leaves_ms(key, j)
  local m = redis.call('HGET', key, 'm' .. int(j))
  if m then return tonumber(m) + W - now end
  return (j + N + 1) * B - now
end

local function drop(key, j)
  local c = tonumber(redis.call('HGET', key, int(j))) or 0
  redis.call('HDEL', key, int(j), 'm' .. int(j))
  return c
end

-- Drops buckets that left the window; returns sum, oldest, newest (nil, nil when empty).
local function load(key)
  local v = redis.call('HMGET', key, 's', 'o', 'n')
  if not v[1] then return 0, nil, nil end
  local s, o, n = tonumber(v[1]), tonumber(v[2]), tonumber(v[3])
  if n < lo then
    redis.call('DEL', key)
    return 0, nil, nil
  end
  local changed = false
  if o < lo then
    for j = o, lo - 1 do  -- at most N iterations: o >= n - N and n >= lo
      s = s - drop(key, j)
    end
    o, changed = lo, true
  end
  -- The oldest counted bucket straddles the window's edge: it is gone once its newest request is W old.
  if o == lo and leaves_ms(key, lo) <= 0 then
    s = s - drop(key, lo)
    if n == lo then
      redis.call('DEL', key)
      return 0, nil, nil
    end
    o, changed = lo + 1, true
  end
  if changed then redis.call('HSET', key, 's', int(s), 'o', int(o)) end
  return s, o, n
end

local function add(key, s, o, amount)
  redis.call('HINCRBY', key, int(bucket), int(amount))
  local m = tonumber(redis.call('HGET', key, 'm' .. int(bucket))) or 0
  redis.call('HSET', key, 's', int(s + amount), 'o', int(o or bucket), 'n', int(bucket),
             'm' .. int(bucket), int(math.max(m, now)))
  redis.call('PEXPIRE', key, int(W + 2 * B))
end

local function reset_ms(key, s, n)
  if s > 0 then return leaves_ms(key, n) end
  return 0
end

-- When the oldest buckets will have freed enough for `cost` to fit (nothing else arriving).
local function retry_ms(key, s, o, n, limit, cost)
  if cost > limit then return -1 end
  local need, freed = s + cost - limit, 0
  for j = o, n do
    freed = freed + (tonumber(redis.call('HGET', key, int(j))) or 0)
    if freed >= need then return leaves_ms(key, j) end
  end
  return leaves_ms(key, n)
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
  local out = {0, 0, now, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
  local rate_ok, sums, oldest = true, {}, {}
  for i = 1, 4 do
    if limit[i] >= 0 then
      local s, o, n = load(KEYS[i])
      sums[i], oldest[i] = s, o
      out[3 * i + 1], out[3 * i + 3] = s, reset_ms(KEYS[i], s, n)
      if s + cost[i] > limit[i] then
        rate_ok = false
        out[3 * i + 2] = retry_ms(KEYS[i], s, o, n, limit[i], cost[i])
      end
    end
  end
  for level = 1, 2 do
    if conc[level] >= 0 then
      redis.call('ZREMRANGEBYSCORE', KEYS[4 + level], '-inf', now)
      out[15 + level] = redis.call('ZCARD', KEYS[4 + level])
    end
    if budget[level] >= 0 then
      local hash = KEYS[5 + 2 * level]
      release_expired(hash, KEYS[6 + 2 * level])
      local v = redis.call('HMGET', hash, 'spent', 'reserved')
      out[16 + 2 * level], out[17 + 2 * level] = tonumber(v[1]) or 0, tonumber(v[2]) or 0
    end
  end
  if not rate_ok then out[1] = 1 return out end
  for level = 1, 2 do
    if conc[level] >= 0 and out[15 + level] >= conc[level] then out[1], out[2] = 2, level return out end
  end
  for level = 1, 2 do
    -- Admit while anything is left, then reserve the worst case: overshoot <= one reservation.
    if budget[level] >= 0 and out[16 + 2 * level] + out[17 + 2 * level] >= budget[level] then
      out[1], out[2] = 3, level
      return out
    end
  end
  for i = 1, 4 do
    if limit[i] >= 0 then
      add(KEYS[i], sums[i], oldest[i], cost[i])
      out[3 * i + 1], out[3 * i + 3] = sums[i] + cost[i], reset_ms(KEYS[i], sums[i] + cost[i], bucket)
    end
  end
  local expiry = int(now + tonumber(ARGV[15]))
  for level = 1, 2 do
    if conc[level] >= 0 then
      redis.call('ZADD', KEYS[4 + level], expiry, ARGV[14])
      redis.call('PEXPIRE', KEYS[4 + level], ARGV[15])
      out[15 + level] = out[15 + level] + 1
    end
    if budget[level] >= 0 then
      local hash, zset = KEYS[5 + 2 * level], KEYS[6 + 2 * level]
      out[17 + 2 * level] = redis.call('HINCRBY', hash, 'reserved', ARGV[13])
      redis.call('ZADD', zset, expiry, ARGV[14] .. ':' .. ARGV[13])
      redis.call('PEXPIRE', hash, ARGV[18])
      redis.call('PEXPIRE', zset, ARGV[18])
    end
  end
  return out
end

local function settle()
  local diff = tonumber(ARGV[19])
  local admitted = math.floor(tonumber(ARGV[21]) / B)
  for i = 3, 4 do
    if tonumber(ARGV[3 + i]) >= 0 and diff ~= 0 then
      local s, o, n = load(KEYS[i])
      if diff > 0 then
        add(KEYS[i], s, o, diff)
      elseif o and admitted >= o and admitted <= n then
        -- A refund leaves the window with the estimate it corrects, never earlier or later.
        local charged = tonumber(redis.call('HGET', KEYS[i], int(admitted))) or 0
        local refund = math.min(-diff, charged)
        if refund > 0 then
          redis.call('HINCRBY', KEYS[i], int(admitted), int(-refund))
          redis.call('HSET', KEYS[i], 's', int(s - refund))
        end
      end
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
