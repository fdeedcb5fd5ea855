-- wrk script of bench/million.sh: GET /t/<k>/<size> for k = 0 .. N-1,
-- round-robin (one wrk thread = one rotation), formatted once in init().
--   wrk ... -s bench/million-keys.lua http://HOST:PORT -- N SIZE [SKIP]
-- SKIP: leave out the keys whose number starts with these digits (the
-- keys a prefix purge of /t/SKIP removes, so every request stays a hit).
-- Modelled on ../shared/bench/conf/wrk-many.lua.
local reqs = {}
local n = 0
local i = 0

init = function(args)
  local count = tonumber(args[1])
  local size = args[2]
  local skip = args[3] or ""
  for k = 0, count - 1 do
    local ks = tostring(k)
    if skip == "" or ks:sub(1, #skip) ~= skip then
      n = n + 1
      reqs[n] = wrk.format("GET", "/t/" .. ks .. "/" .. size)
    end
  end
end

request = function()
  i = i + 1
  if i > n then i = 1 end
  return reqs[i]
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "MILLION_RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d errors=%d status_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, e.status))
end
