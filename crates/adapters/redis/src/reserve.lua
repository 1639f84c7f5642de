-- ARGV: prefix, recording, settled_ttl, id, lines_json, expires_at, expires_us, spec
local id, lines_json, expires_at, expires_us, spec = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local key = res_key(id)
if redis.call('EXISTS', key) == 1 then
  local r = redis.call('HMGET', key, 'lines', 'state')
  local tombstone = r[1] == '[]' and r[2] == RELEASED
  if not tombstone and r[1] ~= lines_json then return {'err', 'mismatch'} end
  if string.find(r[2], '"rejected"', 1, true) then return {'err', 'insufficient', r[2]} end
  return receipt(id)
end
local lines = parse_spec(spec)
for _, line in ipairs(lines) do
  local l = level(line[1])
  if not l then return {'err', 'unknown_product', line[1]} end
  local available = l[1] - l[2]
  if available < line[2] then
    local state = '{"state":"rejected","product_id":"' .. line[1] .. '","requested":' .. line[2] .. ',"available":' .. available .. '}'
    redis.call('HSET', key, 'lines', lines_json, 'expires_at', expires_at, 'state', state, 'spec', spec)
    settle(key)
    return {'err', 'insufficient', state}
  end
end
add_units(lines, 'reserved')
redis.call('HSET', key, 'lines', lines_json, 'expires_at', expires_at, 'state', ACTIVE, 'spec', spec)
redis.call('ZADD', due_key(), expires_us, id)
return receipt(id)
