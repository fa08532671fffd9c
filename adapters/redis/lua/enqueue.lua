-- Hand due posts to the publish queue, only while the caller still leads with the same epoch: a
-- leader frozen past its lease and resumed cannot add anything under its old epoch.
-- KEYS: 1 lease key, 2 epoch counter, 3 publish stream (one hash tag)
-- ARGV: 1 holder id, 2 epoch, then pairs: workspace id, post id
-- Returns how many entries were added, or -1 when the caller no longer leads.
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('GET', KEYS[2]) ~= ARGV[2] then
  return -1
end
local added = 0
for i = 3, #ARGV, 2 do
  redis.call('XADD', KEYS[3], '*', 'ws', ARGV[i], 'post', ARGV[i + 1])
  added = added + 1
end
return added
