-- Acquire or renew the scheduler lease: ours if free or already ours; never steal a live one.
-- Taking a free lease draws a new epoch (the fencing token) from the counter.
-- KEYS: 1 lease key, 2 epoch counter (same hash tag); ARGV: 1 holder id, 2 ttl ms.
-- Returns {epoch we hold afterwards (0 when another instance leads), 1 if just taken}: a lease
-- taken anew (also after a Redis restart reset the counter) is a new lead even at an equal epoch.
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {tonumber(redis.call('GET', KEYS[2]) or '0'), 0}
end
if holder then return {0, 0} end
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {epoch, 1}
