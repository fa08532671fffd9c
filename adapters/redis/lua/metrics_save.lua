-- Store posts' figures, each in its post's sibling key ("<post key>:metrics"), only while the
-- post exists (either layout): a post pruned meanwhile must not leave figures behind. The check
-- and the write are one atomic step. Every key is of one workspace (hash tag {ws:<id>}), so the
-- script is Redis Cluster-safe.
-- KEYS: per post: its key, its figures key; ARGV: the encoded figures, in the order of the pairs
-- Returns how many posts were updated.
local saved = 0
for i, value in ipairs(ARGV) do
  if redis.call('EXISTS', KEYS[2 * i - 1]) == 1 then
    redis.call('SET', KEYS[2 * i], value)
    saved = saved + 1
  end
end
return saved
