-- Move a post to a new status only if its stored status is one of the allowed ones (and, for a
-- fenced write, only if the post's claim epoch is still the writer's), keeping its history and
-- the workspace's indexes in step, all in one atomic step: the claim that prevents doubles.
-- Every key is of one workspace (hash tag {ws:<id>}), so the script is Redis Cluster-safe.
-- A post is one string key, "<status>\t<epoch>\t<document JSON>" followed by its history, one
-- "\n<event JSON>" per event (JSON never holds a raw newline): one key per post is far smaller
-- in Redis than a hash (a document longer than 64 bytes makes it a hashtable) plus a list.
-- A post of the old layout (hash + history list) is rewritten in the new one by its next write.
-- A post sits in exactly one due-time index: scheduled (4), awaiting approval (6) or every
-- other post (3).
-- KEYS: 1 post key, 2 the old layout's history list (deleted on migration), 3 workspace index
--       of every post neither scheduled nor awaiting approval (zset: due), 4 workspace
--       scheduled (zset: due), 5 workspace publishing (zset: claim time), 6 workspace awaiting
--       approval (zset: due, or creation time for a post to publish at once when approved),
--       7 (optional) the platform handle's owner key
-- ARGV: 1 allowed statuses "a,b" ("" = create: the post must not exist), 2 new status,
--       3 document JSON, 4 history event JSON, 5 post id, 6 index score (due), 7 fence: the
--       claim epoch the writer holds ("" = unfenced), 8 "1" = this is a claim (epoch + 1),
--       9 claim time score, 10 (with KEYS[7]) the handle owner's TTL in seconds,
--       11 history bytes kept (older events are dropped first), 12 (optional) the document the
--       writer read: refused unless the stored one is still that document (a decision taken
--       on a read copy never overwrites what another process wrote since)
-- Returns the post's claim epoch afterwards, or -1 when refused.
local current, epoch, events, doc = nil, 0, '', ''
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'string' then
  local raw = redis.call('GET', KEYS[1])
  local s, e, rest = string.match(raw, '^([^\t]*)\t([^\t]*)\t(.*)$')
  current, epoch, doc = s, tonumber(e) or 0, rest
  local nl = string.find(rest, '\n', 1, true)
  if nl then events, doc = string.sub(rest, nl), string.sub(rest, 1, nl - 1) end
elseif kind == 'hash' then
  local f = redis.call('HMGET', KEYS[1], 'status', 'epoch', 'doc')
  current, epoch, doc = f[1], tonumber(f[2] or '0'), f[3] or ''
  local old = redis.call('LRANGE', KEYS[2], 0, -1)
  if #old > 0 then events = '\n' .. table.concat(old, '\n') end
  redis.call('DEL', KEYS[2])
end
if ARGV[1] == '' then
  if current then return -1 end
else
  if not current then return -1 end
  local allowed = false
  for status in string.gmatch(ARGV[1], '[^,]+') do
    if status == current then allowed = true end
  end
  if not allowed then return -1 end
end
if ARGV[7] ~= '' and tonumber(ARGV[7]) ~= epoch then return -1 end  -- a stale claim's write
if ARGV[12] and ARGV[12] ~= '' and doc ~= ARGV[12] then return -1 end  -- the read copy is stale
if ARGV[8] == '1' then epoch = epoch + 1 end
events = events .. '\n' .. ARGV[4]
local keep = tonumber(ARGV[11] or '0') or 0
if keep > 0 and #events > keep then  -- drop the oldest events, at an event boundary
  local cut = string.find(events, '\n', #events - keep + 1, true)
  if cut then events = string.sub(events, cut) end
end
redis.call('SET', KEYS[1], ARGV[2] .. '\t' .. epoch .. '\t' .. ARGV[3] .. events)
local due_index = 3
if ARGV[2] == 'scheduled' then due_index = 4 elseif ARGV[2] == 'awaiting_approval' then due_index = 6 end
for _, i in ipairs({3, 4, 6}) do
  if i == due_index then
    redis.call('ZADD', KEYS[i], ARGV[6], ARGV[5])
  else
    redis.call('ZREM', KEYS[i], ARGV[5])
  end
end
if ARGV[2] == 'publishing' then
  redis.call('ZADD', KEYS[5], ARGV[9], ARGV[5])
else
  redis.call('ZREM', KEYS[5], ARGV[5])
end
if KEYS[7] then  -- the first post to record a platform id keeps it (guards Facebook lookups)
  redis.call('SET', KEYS[7], ARGV[5], 'NX', 'EX', ARGV[10])
end
return epoch
