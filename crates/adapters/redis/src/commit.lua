-- ARGV: prefix, recording, settled_ttl, id
local id = ARGV[4]
local key = res_key(id)
if redis.call('EXISTS', key) == 0 then return {'err', 'unknown_reservation'} end
local r = redis.call('HMGET', key, 'state', 'spec')
if r[1] == COMMITTED then return receipt(id) end
if r[1] ~= ACTIVE then return {'err', 'invalid_transition', r[1]} end
give_back(parse_spec(r[2]), true)
redis.call('HSET', key, 'state', COMMITTED)
redis.call('ZREM', due_key(), id)
settle(key)
return receipt(id)
