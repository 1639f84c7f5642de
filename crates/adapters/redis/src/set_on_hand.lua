-- ARGV: prefix, recording, settled_ttl, product, on_hand
local pid = ARGV[4]
local refused = set_on_hand(pid, tonumber(ARGV[5]))
if refused then return refused end
return push_levels({'ok'}, {{pid, 0}})
