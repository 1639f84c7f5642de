-- ARGV: prefix, recording, settled_ttl, product, on_hand, restock number
-- The last restock number applied is kept in the stock hash (`restock`): a repeated or
-- older number changes nothing, and a refused restock does not record its number.
local pid, number = ARGV[4], tonumber(ARGV[6])
local applied = tonumber(redis.call('HGET', stock_key(pid), 'restock') or '0')
if number <= applied then
  return push_levels({'stale', applied}, {{pid, 0}})
end
local refused = set_on_hand(pid, tonumber(ARGV[5]))
if refused then return refused end
redis.call('HSET', stock_key(pid), 'restock', number)
return push_levels({'applied'}, {{pid, 0}})
