-- Delete finished posts (published, failed, missed, cancelled) of one workspace. Each status is
-- checked here, atomically, so a post retried or rescheduled since it was listed is kept.
-- KEYS: 1 the workspace's post index (zset), then per post: its key, the old layout's history
--       list, its figures key (post performance)
-- ARGV: the post ids, in the order of their KEYS triples
-- Returns how many posts were deleted.
local finished = {published = true, failed = true, missed = true, cancelled = true}
local function status_of(key)
  local kind = redis.call('TYPE', key).ok
  if kind == 'string' then
    return string.match(redis.call('GET', key), '^([^\t]*)\t')
  elseif kind == 'hash' then
    return redis.call('HGET', key, 'status')
  end
  return nil
end
local removed = 0
for i, post_id in ipairs(ARGV) do
  local post, history, metrics = KEYS[3 * i - 1], KEYS[3 * i], KEYS[3 * i + 1]
  local status = status_of(post)
  if status and finished[status] then
    redis.call('DEL', post, history, metrics)
    redis.call('ZREM', KEYS[1], post_id)
    removed = removed + 1
  elseif not status then
    redis.call('DEL', metrics)  -- figures must not outlive their post
    redis.call('ZREM', KEYS[1], post_id)  -- an index entry whose post is already gone
  end
end
return removed
