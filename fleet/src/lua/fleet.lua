-- One fleet transition of one breaker, run atomically by the server (EVALSHA).
-- KEYS: 1 state hash, 2 open marker (SET PX period), 3 probe lease (SET NX PX lease)
-- ARGV: 1 epoch candidate, 2 channel, 3 breaker name, 4 operation, 5.. operation arguments
-- Reply: { epoch, gen, state, open pttl ms, level, lease holder or '-', lease pttl ms, won 0|1 }
-- Anything malformed found in the keys (wrong type, garbage fields, no TTL) is treated as
-- absent and overwritten: a script never fails on what it reads.
local S, O, L = KEYS[1], KEYS[2], KEYS[3]
local cand, chan, name, op = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
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

local st = {}
scrub(S, 'hash'); scrub(O, 'string'); scrub(L, 'string')
local h = redis.call('HMGET', S, 'v', 'epoch', 'gen', 'state', 'level')
st.epoch, st.gen, st.state, st.level = h[2], int(h[3], 0, MAXGEN), h[4], int(h[5], 0, 7)
local valid = h[1] == '1' and type(st.epoch) == 'string' and string.len(st.epoch) <= 32
  and string.find(st.epoch, '^%w+$') ~= nil and st.gen ~= nil and st.level ~= nil
  and (st.state == 'closed' or st.state == 'open' or st.state == 'probing')
if not valid then
  redis.call('DEL', S, O, L)
  st.epoch, st.gen, st.state, st.level = cand, 0, 'closed', 0
  redis.call('HSET', S, 'v', '1', 'epoch', cand, 'gen', '0', 'state', 'closed', 'level', '0', 'fails', '0')
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

local function fmt(n) return string.format('%d', n) end

local function view(won)
  local opt = redis.call('PTTL', O)
  if opt < 0 then opt = 0 end
  local lpt = redis.call('PTTL', L)
  if lpt < 0 then lpt = 0 end
  return { st.epoch, fmt(st.gen), st.state, opt, st.level, st.holder, lpt, won }
end

local function publish(ms)
  redis.call('PUBLISH', chan, table.concat({ 'abf1', st.epoch, fmt(st.gen), st.state, fmt(ms),
    fmt(st.level), st.holder, name }, ' '))
end

local function bump(state, level)
  st.gen = redis.call('HINCRBY', S, 'gen', 1)
  st.state, st.level = state, level
  redis.call('HSET', S, 'state', state, 'level', fmt(level), 'fails', '0')
end

local function open(period, level)
  bump('open', level)
  redis.call('DEL', L)
  st.holder = '-'
  redis.call('SET', O, fmt(st.gen), 'PX', period)
  publish(period)
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
  local period, level = arg_int(5, 1, 2 ^ 40), arg_int(6, 0, 7)
  if type(period) == 'table' then return period end
  if type(level) == 'table' then return level end
  if st.state == 'closed' then
    open(period, level)
    return view(1)
  end
  return view(0)
elseif op == 'count' then
  local gen, n, threshold, period = arg_int(5, 0, MAXGEN), arg_int(6, 1, 2 ^ 31),
    arg_int(7, 1, 2 ^ 31), arg_int(8, 1, 2 ^ 40)
  for _, v in ipairs({ gen, n, threshold, period }) do
    if type(v) == 'table' then return v end
  end
  if st.state == 'closed' and st.gen == gen then
    local f = int(redis.call('HGET', S, 'fails'), 0, 2 ^ 40)
    if f == nil then f = 0 end
    f = f + n
    redis.call('HSET', S, 'fails', fmt(f))
    if f >= threshold then
      open(period, 0)
      return view(1)
    end
  end
  return view(0)
elseif op == 'acquire' then
  local replica, lease = ARGV[5], arg_int(6, 1, 2 ^ 40)
  if type(lease) == 'table' then return lease end
  if st.state ~= 'closed' and redis.call('EXISTS', O) == 0 and st.holder == '-' then
    bump('probing', st.level)
    st.holder, st.lgen = replica, st.gen
    redis.call('SET', L, fmt(st.gen) .. ':' .. replica, 'PX', lease)
    publish(lease)
    return view(1)
  end
  return view(0)
elseif op == 'renew' then
  local gen, replica, lease = arg_int(5, 0, MAXGEN), ARGV[6], arg_int(7, 1, 2 ^ 40)
  if type(gen) == 'table' then return gen end
  if type(lease) == 'table' then return lease end
  if mine(gen, replica) then
    redis.call('PEXPIRE', L, lease)
    return view(1)
  end
  return view(0)
elseif op == 'result' then
  local gen, replica, ok = arg_int(5, 0, MAXGEN), ARGV[6], ARGV[7]
  local period, level = arg_int(8, 1, 2 ^ 40), arg_int(9, 0, 7)
  for _, v in ipairs({ gen, period, level }) do
    if type(v) == 'table' then return v end
  end
  if mine(gen, replica) then
    if ok == '1' then
      bump('closed', 0)
      redis.call('DEL', O, L)
      st.holder = '-'
      publish(0)
    else
      open(period, level)
    end
    return view(1)
  end
  return view(0)
elseif op == 'revoke' then
  local gen, replica = arg_int(5, 0, MAXGEN), ARGV[6]
  if type(gen) == 'table' then return gen end
  if mine(gen, replica) then
    bump('open', st.level)
    redis.call('DEL', L)
    st.holder = '-'
    publish(0)
    return view(1)
  end
  return view(0)
end
return redis.error_reply('fleet script: unknown operation')
