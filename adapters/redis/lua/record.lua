-- Record one usage event and report budget thresholds crossed for the first time.
-- KEYS[1] workspace activity (sorted set)  KEYS[2] user activity (sorted set)
-- KEYS[3] today's usage (hash)             KEYS[4] this month's usage (hash)
-- KEYS[5] the workspace's overrides (hash)
-- ARGV: now_ms, retention_ms, entry (JSON), user id, kind, content kind, model, tokens,
--       cost_micros, day_ttl_s, month_ttl_s, daily_tokens default, monthly_cost_micros default,
--       warn_percent, max_entries, publish_failed (1/0)
local now = tonumber(ARGV[1])
local oldest = now - tonumber(ARGV[2])
local max_entries = tonumber(ARGV[15])
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], now, ARGV[3])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', oldest)
  redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -(max_entries + 1))
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
end

local user = 'user:' .. ARGV[4] .. ':'
local kind, content, model = ARGV[5], ARGV[6], ARGV[7]
local tokens, cost = tonumber(ARGV[8]), tonumber(ARGV[9])
local totals = {}  -- the period totals HINCRBY returns, for the budget checks below
for i = 3, 4 do
  redis.call('HINCRBY', KEYS[i], kind, 1)
  redis.call('HINCRBY', KEYS[i], user .. kind, 1)
  if content ~= '' then redis.call('HINCRBY', KEYS[i], 'content:' .. content, 1) end
  if ARGV[16] == '1' then
    redis.call('HINCRBY', KEYS[i], 'publish_failed', 1)
    redis.call('HINCRBY', KEYS[i], user .. 'publish_failed', 1)
  end
  if tokens > 0 then
    totals[i .. ':tokens'] = redis.call('HINCRBY', KEYS[i], 'tokens', tokens)
    redis.call('HINCRBY', KEYS[i], user .. 'tokens', tokens)
    if model ~= '' then redis.call('HINCRBY', KEYS[i], 'model:' .. model .. ':tokens', tokens) end
  end
  if cost > 0 then
    totals[i .. ':cost'] = redis.call('HINCRBY', KEYS[i], 'cost_micros', cost)
    redis.call('HINCRBY', KEYS[i], user .. 'cost_micros', cost)
    if model ~= '' then redis.call('HINCRBY', KEYS[i], 'model:' .. model .. ':cost_micros', cost) end
  end
end
redis.call('EXPIRE', KEYS[3], ARGV[10])
redis.call('EXPIRE', KEYS[4], ARGV[11])

-- Each threshold is announced once per period: HSETNX on the period's own hash is the latch.
local notices = {}
local function check(name, hash, used, budget)
  if budget <= 0 then return end
  for _, level in ipairs({tonumber(ARGV[14]), 100}) do
    if used * 100 >= budget * level then
      local label = name .. ':' .. (level == 100 and '100' or 'warn')
      if redis.call('HSETNX', hash, 'notice:' .. label, 1) == 1 then table.insert(notices, label) end
    end
  end
end
local o = redis.call('HMGET', KEYS[5], 'daily_tokens', 'monthly_cost_micros')
if tokens > 0 then
  check('tokens', KEYS[3], totals['3:tokens'], tonumber(o[1]) or tonumber(ARGV[12]))
end
if cost > 0 then
  check('cost', KEYS[4], totals['4:cost'], tonumber(o[2]) or tonumber(ARGV[13]))
end
return notices
