-- Shared helpers, prepended to every inventory script. ARGV[1] is the key prefix,
-- which carries a hash tag ({...}) so every key of one store lives in one cluster slot.
-- ARGV[2] is '1' when the store records its changes in its outbox stream; ARGV[3] is how
-- long (seconds) a settled reservation is kept. Each script's own arguments start at ARGV[4].
local P = ARGV[1]
local RECORDING = ARGV[2] == '1'
local SETTLED_TTL = tonumber(ARGV[3])
local ACTIVE = '{"state":"active"}'
local COMMITTED = '{"state":"committed"}'
local RELEASED = '{"state":"released"}'
local EXPIRED = '{"state":"expired"}'

local function stock_key(pid) return P .. ':stock:' .. pid end
local function res_key(id) return P .. ':res:' .. id end
local function due_key() return P .. ':due' end

-- A reservation that reached a final state (committed, released, expired, rejected, or a
-- release tombstone) answers retries for SETTLED_TTL seconds, then Redis drops it.
local function settle(key) redis.call('EXPIRE', key, SETTLED_TTL) end
local function outbox_key() return P .. ':outbox' end

-- "pid:q,pid:q" -> ordered list of {pid, q}
local function parse_spec(spec)
  local lines = {}
  for pid, q in string.gmatch(spec or '', '([^:,]+):(%d+)') do
    table.insert(lines, {pid, tonumber(q)})
  end
  return lines
end

local function level(pid)
  local v = redis.call('HMGET', stock_key(pid), 'on_hand', 'reserved', 'version')
  if not v[1] then return nil end
  return {tonumber(v[1]), tonumber(v[2]), tonumber(v[3])}
end

-- Records a product's new level in the outbox stream, in the same atomic step as the
-- change. Entry ids are `0-<n>` with n from a counter, so a relay can name an entry by
-- one integer; `at` is the server's clock in microseconds.
local function changed(pid)
  if not RECORDING then return end
  local l = level(pid)
  local n = redis.call('INCR', P .. ':outbox:seq')
  local t = redis.call('TIME')
  redis.call('XADD', outbox_key(), '0-' .. n, 'product_id', pid, 'on_hand', l[1], 'reserved', l[2],
    'version', l[3], 'at', t[1] * 1000000 + t[2])
end

-- Sets a product's on-hand units, creating its record. Returns nil, or the refusal
-- reply when fewer than the reserved units.
local function set_on_hand(pid, on_hand)
  local k = stock_key(pid)
  local l = level(pid)
  if not l then
    redis.call('HSET', k, 'on_hand', on_hand, 'reserved', 0, 'version', 1)
    changed(pid)
  elseif on_hand < l[2] then
    return {'err', 'below_reserved', l[2]}
  elseif on_hand ~= l[1] then
    redis.call('HSET', k, 'on_hand', on_hand)
    redis.call('HINCRBY', k, 'version', 1)
    changed(pid)
  end
  return nil
end

-- Appends pid, on_hand, reserved, version for each line's product that has stock.
local function push_levels(out, lines)
  for _, line in ipairs(lines) do
    local l = level(line[1])
    if l then
      table.insert(out, line[1]); table.insert(out, l[1]); table.insert(out, l[2]); table.insert(out, l[3])
    end
  end
  return out
end

local function receipt(id)
  local r = redis.call('HMGET', res_key(id), 'lines', 'expires_at', 'state', 'spec')
  return push_levels({'ok', r[1], r[2], r[3]}, parse_spec(r[4]))
end

-- Adds each line's units to `field` ('reserved' for a hold, 'on_hand' for a return).
local function add_units(lines, field)
  for _, line in ipairs(lines) do
    local k = stock_key(line[1])
    redis.call('HINCRBY', k, field, line[2])
    redis.call('HINCRBY', k, 'version', 1)
    changed(line[1])
  end
end

local function give_back(lines, also_on_hand)
  for _, line in ipairs(lines) do
    local k = stock_key(line[1])
    redis.call('HINCRBY', k, 'reserved', -line[2])
    if also_on_hand then redis.call('HINCRBY', k, 'on_hand', -line[2]) end
    redis.call('HINCRBY', k, 'version', 1)
    changed(line[1])
  end
end
