-- One fleet transition of one breaker, run atomically by the server (EVALSHA).
-- KEYS: 1 state hash, 2 open marker (SET PX period), 3 probe lease (SET NX PX lease),
--       4 live members (zset replica -> server ms of its last script),
--       5 trip votes of the closed generation (zset replica -> server ms of its trip),
--       6 replicas that counted failures in the closed generation (zset, fleet counting)
-- ARGV: 1 epoch candidate, 2 channel, 3 breaker name, 4 operation, 5 replica,
--       6 membership expiry ms, 7 quorum replicas (the minimum, with a fraction),
--       8 quorum fraction in per mille of the live members (0: an absolute count),
--       9 vote window ms, 10 grace ms, 11.. operation arguments
-- Reply: { epoch, gen, state, open pttl ms, level, lease holder or '-', lease pttl ms, won 0|1,
--          cause, replicas tripped at the opening, live replicas at the opening,
--          votes now, live now, quorum needed now }
-- Time is the server's own (TIME), never a host's: every replica's heartbeat and vote is scored
-- with the one clock that runs the scripts.
-- Anything malformed found in the keys (wrong type, garbage fields, no TTL) is treated as
-- absent and overwritten: a script never fails on what it reads.
local S, O, L, M, V, C = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local cand, chan, name, op, me = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local MAXGEN = 9007199254740991

local function int(v, lo, hi)
  local n = tonumber(v)
  if n == nil or n ~= n or n < lo or n > hi or math.floor(n) ~= n then return nil end
  return n
end

local function scrub(k, t)
  local ty = redis.call('TYPE', k)['ok']
  if ty ~= 'none' and (ty ~= t or (t == 'string' and redis.call('PTTL', k) < 0)) then
    redis.call('DEL', k)
  end
end

local expiry, qmin, qfrac = int(ARGV[6], 1, 2 ^ 40), int(ARGV[7], 1, 65535), int(ARGV[8], 0, 1000)
local window, grace = int(ARGV[9], 1, 2 ^ 40), int(ARGV[10], 0, 2 ^ 40)
if expiry == nil or qmin == nil or qfrac == nil or window == nil or grace == nil
  or not string.find(me, '^[%w%.%-_]+$') or string.len(me) > 64 then
  return redis.error_reply('fleet script: bad common arguments')
end

local function fmt(n) return string.format('%d', n) end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local st = {}
scrub(S, 'hash'); scrub(O, 'string'); scrub(L, 'string')
scrub(M, 'zset'); scrub(V, 'zset'); scrub(C, 'zset')
local h = redis.call('HMGET', S, 'v', 'epoch', 'gen', 'state', 'level')
st.epoch, st.gen, st.state, st.level = h[2], int(h[3], 0, MAXGEN), h[4], int(h[5], 0, 7)
local valid = h[1] == '1' and type(st.epoch) == 'string' and string.len(st.epoch) <= 32
  and string.find(st.epoch, '^%w+$') ~= nil and st.gen ~= nil and st.level ~= nil
  and (st.state == 'closed' or st.state == 'open' or st.state == 'probing')
if not valid then
  redis.call('DEL', S, O, L, V, C)
  st.epoch, st.gen, st.state, st.level = cand, 0, 'closed', 0
  redis.call('HSET', S, 'v', '1', 'epoch', cand, 'gen', '0', 'state', 'closed', 'level', '0', 'fails', '0')
end

-- Membership: this replica is live now; whoever has not run a script within the expiry is not.
redis.call('ZADD', M, fmt(now), me)
redis.call('ZREMRANGEBYSCORE', M, '-inf', '(' .. fmt(now - expiry))
redis.call('PEXPIRE', M, fmt(expiry * 2))
local live = redis.call('ZCARD', M)

local function needed()
  local n = qmin
  if qfrac > 0 then
    n = math.max(qmin, math.ceil(live * qfrac / 1000))
  end
  return math.max(1, math.min(n, live))
end

-- Distinct live replicas in the zset `k` within the vote window.
local function distinct(k)
  redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. fmt(now - window))
  local n = 0
  for _, r in ipairs(redis.call('ZRANGE', k, 0, -1)) do
    if redis.call('ZSCORE', M, r) then n = n + 1 end
  end
  return n
end

st.holder, st.lgen = '-', nil
local lv = redis.call('GET', L)
if lv then
  local g, r = string.match(lv, '^(%d+):([%w%.%-_]+)$')
  if g and string.len(lv) <= 100 and int(g, 0, MAXGEN) == st.gen and st.state == 'probing' then
    st.holder, st.lgen = r, tonumber(g)
  else
    redis.call('DEL', L)
  end
end

-- Why the fleet is where it is: 'q' a quorum of trips, 'c' counted failures, 'p' its probe,
-- '-' nothing recorded; with the trips and live replicas at the opening.
local function why()
  local w = redis.call('HMGET', S, 'cause', 'tripped', 'members')
  local c = w[1]
  if c ~= 'q' and c ~= 'c' and c ~= 'p' then c = '-' end
  return c, int(w[2], 0, 65535) or 0, int(w[3], 0, 65535) or 0
end

local function view(won)
  local opt = redis.call('PTTL', O)
  if opt < 0 then opt = 0 end
  local lpt = redis.call('PTTL', L)
  if lpt < 0 then lpt = 0 end
  local c, tripped, members = why()
  local votes = 0
  if st.state == 'closed' then votes = distinct(V) end
  return { st.epoch, fmt(st.gen), st.state, opt, st.level, st.holder, lpt, won,
    c, tripped, members, votes, live, needed() }
end

local function publish(ms)
  local c, tripped, members = why()
  redis.call('PUBLISH', chan, table.concat({ 'abf2', st.epoch, fmt(st.gen), st.state, fmt(ms),
    fmt(st.level), st.holder, c, fmt(tripped), fmt(members), name }, ' '))
end

-- Every transition starts a new generation; trip votes and counted replicas belong to one
-- closed generation, so they go with it.
local function bump(state, level, cause)
  st.gen = redis.call('HINCRBY', S, 'gen', 1)
  st.state, st.level = state, level
  redis.call('HSET', S, 'state', state, 'level', fmt(level), 'fails', '0', 'cause', cause)
  redis.call('DEL', V, C)
end

local function open(period, level, cause, tripped)
  bump('open', level, cause)
  redis.call('HSET', S, 'tripped', fmt(tripped), 'members', fmt(live), 'due', fmt(now + period))
  redis.call('DEL', L)
  st.holder = '-'
  redis.call('SET', O, fmt(st.gen), 'PX', period)
  publish(period)
end

-- A replica barred from the lease until a time: the last one whose probe failed, or that gave
-- a grant back, so that another replica whose callers want the probe gets it first.
local function bar(replica, till)
  redis.call('HSET', S, 'bar', replica, 'bar_until', fmt(till))
end

local function barred()
  local b = redis.call('HMGET', S, 'bar', 'bar_until')
  local till = int(b[2], 0, 2 ^ 53)
  return b[1] == me and till ~= nil and now < till
end

local function mine(gen, replica)
  return st.state == 'probing' and st.lgen == gen and st.holder == replica
end

local function arg_int(i, lo, hi)
  local n = int(ARGV[i], lo, hi)
  if n == nil then return redis.error_reply('fleet script: bad argument ' .. i) end
  return n
end

if op == 'read' then
  return view(0)
elseif op == 'trip' then
  local period, level = arg_int(11, 1, 2 ^ 40), arg_int(12, 0, 7)
  if type(period) == 'table' then return period end
  if type(level) == 'table' then return level end
  if st.state == 'closed' then
    redis.call('ZADD', V, fmt(now), me)
    redis.call('PEXPIRE', V, window)
    local votes = distinct(V)
    if votes >= needed() then
      open(period, level, 'q', votes)
      return view(1)
    end
  end
  return view(0)
elseif op == 'withdraw' then
  -- This replica's breaker recovered by itself: its trip is no longer evidence.
  if st.state == 'closed' then redis.call('ZREM', V, me) end
  return view(0)
elseif op == 'count' then
  local gen, n, threshold, period = arg_int(11, 0, MAXGEN), arg_int(12, 1, 2 ^ 31),
    arg_int(13, 1, 2 ^ 31), arg_int(14, 1, 2 ^ 40)
  for _, v in ipairs({ gen, n, threshold, period }) do
    if type(v) == 'table' then return v end
  end
  if st.state == 'closed' and st.gen == gen then
    local f = int(redis.call('HGET', S, 'fails'), 0, 2 ^ 40)
    if f == nil then f = 0 end
    f = f + n
    redis.call('HSET', S, 'fails', fmt(f))
    redis.call('ZADD', C, fmt(now), me)
    redis.call('PEXPIRE', C, window)
    local counted = distinct(C)
    if f >= threshold and counted >= needed() then
      open(period, 0, 'c', counted)
      return view(1)
    end
  end
  return view(0)
elseif op == 'acquire' then
  local lease = arg_int(11, 1, 2 ^ 40)
  if type(lease) == 'table' then return lease end
  if st.state ~= 'closed' and redis.call('EXISTS', O) == 0 and st.holder == '-' and not barred() then
    st.gen = redis.call('HINCRBY', S, 'gen', 1)
    st.state = 'probing'
    redis.call('HSET', S, 'state', 'probing')
    st.holder, st.lgen = me, st.gen
    redis.call('SET', L, fmt(st.gen) .. ':' .. me, 'PX', lease)
    publish(lease)
    return view(1)
  end
  return view(0)
elseif op == 'renew' then
  local gen, lease = arg_int(11, 0, MAXGEN), arg_int(12, 1, 2 ^ 40)
  if type(gen) == 'table' then return gen end
  if type(lease) == 'table' then return lease end
  if mine(gen, me) then
    redis.call('PEXPIRE', L, lease)
    return view(1)
  end
  return view(0)
elseif op == 'result' then
  local gen, ok = arg_int(11, 0, MAXGEN), ARGV[12]
  local period, level = arg_int(13, 1, 2 ^ 40), arg_int(14, 0, 7)
  for _, v in ipairs({ gen, period, level }) do
    if type(v) == 'table' then return v end
  end
  if mine(gen, me) then
    if ok == '1' then
      bump('closed', 0, 'p')
      redis.call('HDEL', S, 'bar', 'bar_until', 'tripped', 'members', 'due')
      redis.call('DEL', O, L)
      st.holder = '-'
      publish(0)
    else
      open(period, level, 'p', 0)
      bar(me, now + period + grace)
    end
    return view(1)
  end
  return view(0)
elseif op == 'revoke' then
  local gen = arg_int(11, 0, MAXGEN)
  if type(gen) == 'table' then return gen end
  if mine(gen, me) then
    -- Back to due: the open period is over, nobody holds the lease. The reason stays.
    st.gen = redis.call('HINCRBY', S, 'gen', 1)
    st.state = 'open'
    redis.call('HSET', S, 'state', 'open')
    redis.call('DEL', L)
    st.holder = '-'
    bar(me, now + grace)
    publish(0)
    return view(1)
  end
  return view(0)
end
return redis.error_reply('fleet script: unknown operation')
