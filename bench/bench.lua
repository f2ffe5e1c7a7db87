-- One script for every scenario; the mode and its file come after `--` on the wrk command line.
--   get TOKENFILE         GET with the bearer token on the file's first line
--   invite TOKENFILE CODE POST /profile/invite, each request with the next fresh user's token
--   code                  POST /auth/code for a new phone each time
--   token PHONEFILE CODE  POST /auth/token, each request with the next phone that has a live CODE
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local function lines(path)
  local out = {}
  for line in io.lines(path) do out[#out + 1] = line end
  return out
end

function init(args)
  mode = args[1]
  stride = #threads > 0 and #threads or 8  -- each thread takes every stride-th line, so no line is used twice
  index = (id or 0) + 1
  if mode == "get" then
    local token = lines(args[2])[1]
    if token then wrk.headers["Authorization"] = "Bearer " .. token end
  elseif mode == "invite" then
    tokens = lines(args[2])
    body = '{"invite_code": "' .. args[3] .. '"}'
  elseif mode == "token" then
    phones = lines(args[2])
    code = args[3]
  end
  wrk.headers["Content-Type"] = "application/json"
end

local function next_line(list)
  local line = list[index]
  index = index + stride
  return line
end

function request()
  if mode == "get" then
    return wrk.format("GET")
  elseif mode == "invite" then
    local token = next_line(tokens)
    if token == nil then return wrk.format("GET", "/healthz") end
    return wrk.format("POST", nil, {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
  elseif mode == "code" then
    -- Distinct numbers (a repeat within the resend interval would rightly be refused): per thread, in order.
    index = index + 1
    local phone = string.format("+7997%07d", ((id or 0) * 1000000 + index) % 10000000)
    return wrk.format("POST", nil, nil, '{"phone": "' .. phone .. '"}')
  elseif mode == "token" then
    local phone = next_line(phones)
    if phone == nil then return wrk.format("GET", "/healthz") end
    return wrk.format("POST", nil, nil, '{"phone": "' .. phone .. '", "code": "' .. code .. '"}')
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %.3f, "rps": %.1f, "p50_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, ' ..
    '"errors": %d, "non_2xx": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    errors.connect + errors.read + errors.write + errors.timeout + errors.status, errors.status))
end
