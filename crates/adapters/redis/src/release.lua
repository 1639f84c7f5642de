-- ARGV: prefix, recording, settled_ttl, id
local id = ARGV[4]
local key = res_key(id)
if redis.call('EXISTS', key) == 0 then
  -- A tombstone: a late reserve with this id will hold nothing.
  redis.call('HSET', key, 'lines', '[]', 'expires_at', '1970-01-01T00:00:00Z', 'state', RELEASED, 'spec', '')
  settle(key)
  return receipt(id)
end
local r = redis.call('HMGET', key, 'state', 'spec')
if r[1] == COMMITTED then return {'err', 'invalid_transition', r[1]} end
if r[1] == ACTIVE then
  give_back(parse_spec(r[2]), false)
  redis.call('HSET', key, 'state', RELEASED)
  redis.call('ZREM', due_key(), id)
  settle(key)
end
return receipt(id)
