-- Store a post's figures in its own hash, beside status and document, only while the post
-- exists: a post pruned meanwhile must not come back as a hash holding figures alone.
-- Every key is of one workspace (hash tag {ws:<id>}), so the script is Redis Cluster-safe.
-- KEYS: the post hashes; ARGV: the encoded figures, in the order of KEYS
-- Returns how many posts were updated.
local saved = 0
for i, key in ipairs(KEYS) do
  if redis.call('HEXISTS', key, 'status') == 1 then
    redis.call('HSET', key, 'metrics', ARGV[i])
    saved = saved + 1
  end
end
return saved
