-- ARGV: prefix, recording, settled_ttl, id, lines_json, spec, max_on_hand
local id, lines_json, spec, max_on_hand = ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7])
local RETURNED = '{"state":"returned"}'
local key = res_key(id)
if redis.call('EXISTS', key) == 1 then
  local r = redis.call('HMGET', key, 'lines', 'state')
  if r[2] ~= RETURNED then return {'err', 'invalid_transition', r[2]} end
  if r[1] ~= lines_json then return {'err', 'mismatch'} end
  return receipt(id)
end
local lines = parse_spec(spec)
for _, line in ipairs(lines) do
  local l = level(line[1])
  if not l then return {'err', 'unknown_product', line[1]} end
  if l[1] + line[2] > max_on_hand then return {'err', 'too_many', line[1]} end
end
add_units(lines, 'on_hand')
-- No deadline (unlike settled reservations): a retry, however late, must find the record
-- and return nothing twice.
redis.call('HSET', key, 'lines', lines_json, 'expires_at', '1970-01-01T00:00:00Z', 'state', RETURNED, 'spec', spec)
return receipt(id)
