-- ARGV: prefix, recording, settled_ttl, now_us, limit. Atomic, so sweepers in several processes never expire one twice.
local now_us, limit = ARGV[4], tonumber(ARGV[5])
local due = redis.call('ZRANGEBYSCORE', due_key(), '-inf', now_us, 'LIMIT', 0, limit)
local out = {'ok'}
for _, id in ipairs(due) do
  local key = res_key(id)
  local r = redis.call('HMGET', key, 'state', 'spec')
  redis.call('ZREM', due_key(), id)
  if r[1] == ACTIVE then
    give_back(parse_spec(r[2]), false)
    redis.call('HSET', key, 'state', EXPIRED)
    settle(key)
    local one = receipt(id)
    table.insert(out, id)
    table.insert(out, #one - 1)
    for i = 2, #one do table.insert(out, one[i]) end
  end
end
return out
