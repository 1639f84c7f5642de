-- ARGV: prefix, recording, product, on_hand
local pid, on_hand = ARGV[3], tonumber(ARGV[4])
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
return push_levels({'ok'}, {{pid, 0}})
