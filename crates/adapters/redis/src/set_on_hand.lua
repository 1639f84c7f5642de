-- ARGV: prefix, recording, product, on_hand
local pid = ARGV[3]
local refused = set_on_hand(pid, tonumber(ARGV[4]))
if refused then return refused end
return push_levels({'ok'}, {{pid, 0}})
