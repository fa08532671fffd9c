-- Move a post to a new status only if its stored status is one of the allowed ones (and, for a
-- fenced write, only if the post's claim epoch is still the writer's), keeping its history and
-- the workspace's indexes in step, all in one atomic step: the claim that prevents doubles.
-- Every key is of one workspace (hash tag {ws:<id>}), so the script is Redis Cluster-safe.
-- KEYS: 1 post hash, 2 history list, 3 workspace index (zset), 4 workspace scheduled (zset: due),
--       5 workspace publishing (zset: claim time), 6 workspace awaiting approval (zset: due,
--       or creation time for a post to publish at once when approved)
-- ARGV: 1 allowed statuses "a,b" ("" = create: the post must not exist), 2 new status,
--       3 document JSON, 4 history event JSON, 5 post id, 6 index score (due), 7 fence: the
--       claim epoch the writer holds ("" = unfenced), 8 "1" = this is a claim (epoch + 1),
--       9 claim time score
-- Returns the post's claim epoch afterwards, or -1 when refused.
local current = redis.call('HGET', KEYS[1], 'status')
if ARGV[1] == '' then
  if current then return -1 end
else
  if not current then return -1 end
  local allowed = false
  for status in string.gmatch(ARGV[1], '[^,]+') do
    if status == current then allowed = true end
  end
  if not allowed then return -1 end
end
local epoch = tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0')
if ARGV[7] ~= '' and tonumber(ARGV[7]) ~= epoch then return -1 end  -- a stale claim's write
if ARGV[8] == '1' then epoch = epoch + 1 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'doc', ARGV[3], 'epoch', epoch)
redis.call('RPUSH', KEYS[2], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[6], ARGV[5])
if ARGV[2] == 'scheduled' then
  redis.call('ZADD', KEYS[4], ARGV[6], ARGV[5])
else
  redis.call('ZREM', KEYS[4], ARGV[5])
end
if ARGV[2] == 'publishing' then
  redis.call('ZADD', KEYS[5], ARGV[9], ARGV[5])
else
  redis.call('ZREM', KEYS[5], ARGV[5])
end
if ARGV[2] == 'awaiting_approval' then
  redis.call('ZADD', KEYS[6], ARGV[6], ARGV[5])
else
  redis.call('ZREM', KEYS[6], ARGV[5])
end
return epoch
