-- wrk script of benchmarks/suite.py: POST one fixed body with fixed headers, print a JSON summary.
--   WRK_BODY_FILE=body.json WRK_HEADERS_FILE=headers.txt wrk -t1 -c64 -d10s -s wrk_post.lua URL
-- headers.txt holds one "Name: value" per line. The last line printed is the JSON summary.

local function read(path)
  local handle = assert(io.open(path, "rb"))
  local text = handle:read("*a")
  handle:close()
  return text
end

wrk.method = "POST"
wrk.body = read(os.getenv("WRK_BODY_FILE"))
for line in read(os.getenv("WRK_HEADERS_FILE")):gmatch("[^\n]+") do
  local name, value = line:match("^([^:]+):%s*(.*)$")
  if name then
    wrk.headers[name] = value
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_s": %.6f, "rps": %.2f, "errors": {"connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d}, "p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000))
end
