-- Delete finished posts (published, failed, missed, cancelled) of one workspace. Each status is
-- checked here, atomically, so a post retried or rescheduled since it was listed is kept.
-- KEYS: 1 the workspace's post index (zset), then per post: its hash, its history list
-- ARGV: the post ids, in the order of their KEYS pairs
-- Returns how many posts were deleted.
local finished = {published = true, failed = true, missed = true, cancelled = true}
local removed = 0
for i, post_id in ipairs(ARGV) do
  local hash, history = KEYS[2 * i], KEYS[2 * i + 1]
  local status = redis.call('HGET', hash, 'status')
  if status and finished[status] then
    redis.call('DEL', hash, history)
    redis.call('ZREM', KEYS[1], post_id)
    removed = removed + 1
  elseif not status then
    redis.call('ZREM', KEYS[1], post_id)  -- an index entry whose post is already gone
  end
end
return removed
