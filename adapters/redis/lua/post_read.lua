-- Read one post as "<status>\t<epoch>\t<document JSON>[\n<event JSON>]..." (one string key), or
-- nil. A post written before that layout (a hash with status/doc/epoch and its history in a
-- separate list) is read into the same form, so an upgrade needs no migration step.
-- KEYS: 1 post key, 2 the old layout's history list
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'string' then
  return redis.call('GET', KEYS[1])
elseif kind == 'hash' then
  local f = redis.call('HMGET', KEYS[1], 'status', 'epoch', 'doc')
  if not f[1] or not f[3] then return nil end
  local parts = {f[1] .. '\t' .. (f[2] or '0') .. '\t' .. f[3]}
  for _, e in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do table.insert(parts, e) end
  return table.concat(parts, '\n')
end
return nil
