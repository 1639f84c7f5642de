-- ARGV: prefix, product, on_hand
local pid, on_hand = ARGV[2], tonumber(ARGV[3])
local k = stock_key(pid)
local l = level(pid)
if not l then
  redis.call('HSET', k, 'on_hand', on_hand, 'reserved', 0, 'version', 1)
elseif on_hand < l[2] then
  return {'err', 'below_reserved', l[2]}
elseif on_hand ~= l[1] then
  redis.call('HSET', k, 'on_hand', on_hand)
  redis.call('HINCRBY', k, 'version', 1)
end
return push_levels({'ok'}, {{pid, 0}})
