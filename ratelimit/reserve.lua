-- Takes units from several GCRA buckets at once, or from none.
--
-- Each bucket's state is its theoretical arrival time (TAT), in microseconds of Redis's clock
-- (one clock for every replica, so theirs need not agree). Taking n units moves the TAT n
-- intervals on; the caller's turn comes when the new TAT is within the burst tolerance of now.
-- That is a token bucket of rate 1/interval and size tolerance/interval, as golang.org/x/time/rate
-- keeps in one process.
--
-- KEYS[i]: a bucket. ARGV[1]: the most the caller will wait, in microseconds (-1: any wait).
-- Then per bucket: interval (µs a unit), tolerance (µs, burst × interval), units.
-- Returns {1 if taken else 0, the wait in µs, the 0-based index of the bucket that waits longest}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local maxwait = tonumber(ARGV[1])
local worst, worstAt = 0, 1
local tats = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[(i - 1) * 3 + 2])
  local tolerance = tonumber(ARGV[(i - 1) * 3 + 3])
  local n = tonumber(ARGV[(i - 1) * 3 + 4])
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local newtat = tat + n * interval
  local wait = newtat - tolerance - now
  if wait > worst then worst, worstAt = wait, i end
  tats[i] = newtat
end
worst = math.ceil(worst)
if maxwait >= 0 and worst > maxwait then
  return {0, worst, worstAt - 1}
end
for i, key in ipairs(KEYS) do
  -- The state matters only until the TAT is reached: then the bucket is full again.
  redis.call('SET', key, string.format('%d', math.ceil(tats[i])), 'PX', math.ceil((tats[i] - now) / 1000) + 1)
end
return {1, worst, worstAt - 1}
