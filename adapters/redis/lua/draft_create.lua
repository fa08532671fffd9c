-- Claim a new draft's id and index it, atomically, in one round trip.
-- KEYS[1] the draft, KEYS[2] the workspace's drafts index; ARGV: JSON, score, id.
-- NX on the draft: a (rare) id collision never overwrites the draft already holding that id,
-- and its index entry is left as it is. Returns 1 when claimed, 0 on a collision.
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[3])
  return 1
end
return 0
