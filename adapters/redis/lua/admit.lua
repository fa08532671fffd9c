-- Admit one generation: workspace budgets, then the caller's sliding-window (exact log) limit.
-- One atomic call, so concurrent callers can never both take the last slot.
-- KEYS[1] the caller's window (sorted set, score = ms)   KEYS[2] the workspace's overrides (hash)
-- KEYS[3] today's usage (hash)                            KEYS[4] this month's usage (hash)
-- ARGV: now_ms, window_ms, role, role_default, inherit_member (1/0), daily_tokens default,
--       monthly_cost_micros default, entry id (unique per call)
-- Returns {outcome, used, limit, retry_after_ms}; outcome 0 admitted, 1 rate limited,
-- 2 daily tokens used up, 3 monthly cost cap reached.
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local o = redis.call('HMGET', KEYS[2], 'gen_per_hour:' .. ARGV[3], 'gen_per_hour:member',
  'daily_tokens', 'monthly_cost_micros')
local limit = tonumber(o[1])
if not limit and ARGV[5] == '1' then limit = tonumber(o[2]) end
limit = limit or tonumber(ARGV[4])
local token_budget = tonumber(o[3]) or tonumber(ARGV[6])
local cost_cap = tonumber(o[4]) or tonumber(ARGV[7])

if token_budget > 0 then
  local tokens = tonumber(redis.call('HGET', KEYS[3], 'tokens')) or 0
  if tokens >= token_budget then return {2, tokens, token_budget, 0} end
end
if cost_cap > 0 then
  local cost = tonumber(redis.call('HGET', KEYS[4], 'cost_micros')) or 0
  if cost >= cost_cap then return {3, cost, cost_cap, 0} end
end

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if used >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  local retry = window
  if oldest[2] then retry = tonumber(oldest[2]) + window - now end
  return {1, used, limit, retry}
end
redis.call('ZADD', KEYS[1], now, ARGV[1] .. ':' .. ARGV[8])
redis.call('PEXPIRE', KEYS[1], window)
return {0, used + 1, limit, 0}
