-- One script for every scenario; the mode and its file come after `--` on the wrk command line.
--   get TOKENFILE                GET with the bearer token on the file's first line
--   console COOKIEFILE           GET with the console session cookie on the file's first line
--   invite TOKENFILE CODE PREFIX SKIP BLOCK  POST /profile/invite, each request with the next fresh user's token
--   code PREFIX                  POST /auth/code for a new phone each time (+79PREFIX...)
--   token PHONEFILE CODE PREFIX SKIP BLOCK   POST /auth/token, each request with the next phone with a live CODE
--   signup PHONEFILE CODE INVITE PREFIX SKIP BLOCK   the same, entering the invite code INVITE (the campaign path)
--   invite_many PAIRFILE PREFIX SKIP BLOCK   POST /profile/invite, each line "token code": many inviters
--   post                         POST an empty JSON object (the one-write ceiling)
-- SKIP: lines of the file earlier runs took; from there each thread takes its own BLOCK of lines.
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local function lines(path)
  local out = {}
  for line in io.lines(path) do out[#out + 1] = line end
  return out
end

function init(args)
  mode = args[1]
  index = 1
  if mode == "get" then
    local token = lines(args[2])[1]
    if token then wrk.headers["Authorization"] = "Bearer " .. token end
  elseif mode == "console" then
    wrk.headers["Cookie"] = "console_session=" .. lines(args[2])[1]
  elseif mode == "invite" then
    tokens = lines(args[2])
    body = '{"invite_code": "' .. args[3] .. '"}'
    index = tonumber(args[5]) + (id or 0) * tonumber(args[6]) + 1
  elseif mode == "token" then
    phones = lines(args[2])
    code = args[3]
    index = tonumber(args[5]) + (id or 0) * tonumber(args[6]) + 1
  elseif mode == "signup" then
    phones = lines(args[2])
    code = args[3]
    invite = args[4]
    index = tonumber(args[6]) + (id or 0) * tonumber(args[7]) + 1
  elseif mode == "code" then
    prefix = tonumber(args[2])
  elseif mode == "invite_many" then
    pair_lines = lines(args[2])
    index = tonumber(args[4]) + (id or 0) * tonumber(args[5]) + 1
  end
  wrk.headers["Content-Type"] = "application/json"
end

local function next_line(list)
  local line = list[index]
  index = index + 1
  return line
end

function request()
  if mode == "get" or mode == "console" then
    return wrk.format("GET")
  elseif mode == "invite" then
    local token = next_line(tokens)
    -- out of fresh users: send it without a token, so the 401 shows up as an error rather than hiding
    if token == nil then return wrk.format("POST", nil, nil, body) end
    return wrk.format("POST", nil, {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
  elseif mode == "invite_many" then
    local pair = next_line(pair_lines)
    if pair == nil then return wrk.format("POST", nil, nil, "{}") end
    local token, invite = pair:match("^(%S+)%s+(%S+)$")
    return wrk.format("POST", nil, {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"},
      '{"invite_code": "' .. invite .. '"}')
  elseif mode == "post" then
    return wrk.format("POST", nil, nil, "{}")
  elseif mode == "code" then
    -- Distinct numbers (a repeat within the resend interval would rightly be refused): per thread, in order.
    index = index + 1
    local phone = string.format("+79%02d%07d", prefix, ((id or 0) * 1000000 + index) % 10000000)
    return wrk.format("POST", nil, nil, '{"phone": "' .. phone .. '"}')
  elseif mode == "token" then
    local phone = next_line(phones) or "+79990000000"  -- out of live codes: a 401 shows up as an error
    return wrk.format("POST", nil, nil, '{"phone": "' .. phone .. '", "code": "' .. code .. '"}')
  elseif mode == "signup" then
    local phone = next_line(phones) or "+79990000000"
    return wrk.format("POST", nil, nil,
      '{"phone": "' .. phone .. '", "code": "' .. code .. '", "invite_code": "' .. invite .. '"}')
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
