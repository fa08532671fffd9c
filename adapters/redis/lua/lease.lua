-- Acquire or renew the scheduler lease: ours if free or already ours; never steal a live one.
-- KEYS: 1 lease key; ARGV: 1 holder id, 2 ttl ms. Returns 1 when we hold it afterwards.
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
