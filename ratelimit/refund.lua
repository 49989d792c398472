-- Gives back units taken by reserve.lua: each bucket's TAT moves back n intervals, never before
-- now (a bucket cannot hold more than its burst).
--
-- KEYS[i]: a bucket. ARGV, per bucket: interval (µs a unit), tolerance (µs; unused), units.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
for i, key in ipairs(KEYS) do
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat > now then
    local interval = tonumber(ARGV[(i - 1) * 3 + 1])
    local n = tonumber(ARGV[(i - 1) * 3 + 3])
    local newtat = math.max(now, tat - n * interval)
    redis.call('SET', key, string.format('%d', math.ceil(newtat)), 'PX', math.ceil((newtat - now) / 1000) + 1)
  end
end
return 1
