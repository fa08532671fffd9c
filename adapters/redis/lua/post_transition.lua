-- Move a post to a new status only if its stored status is one of the allowed ones, and keep
-- its history and the indexes in step, all in one atomic step (the claim that prevents doubles).
-- KEYS: 1 post hash, 2 history list, 3 workspace index (zset), 4 due index (zset), 5 in-flight set
-- ARGV: 1 allowed statuses "a,b" ("" = create: the post must not exist), 2 new status,
--       3 document JSON, 4 history event JSON, 5 index member "ws\tid", 6 due score, 7 post id
local current = redis.call('HGET', KEYS[1], 'status')
if ARGV[1] == '' then
  if current then return 0 end
else
  if not current then return 0 end
  local allowed = false
  for status in string.gmatch(ARGV[1], '[^,]+') do
    if status == current then allowed = true end
  end
  if not allowed then return 0 end
end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'doc', ARGV[3])
redis.call('RPUSH', KEYS[2], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[6], ARGV[7])
if ARGV[2] == 'scheduled' then
  redis.call('ZADD', KEYS[4], ARGV[6], ARGV[5])
else
  redis.call('ZREM', KEYS[4], ARGV[5])
end
if ARGV[2] == 'publishing' then
  redis.call('SADD', KEYS[5], ARGV[5])
else
  redis.call('SREM', KEYS[5], ARGV[5])
end
return 1
