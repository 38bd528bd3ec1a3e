-- wrk script: POST a CRF lead per request, the sample body with a new `id` each time.
--   wrk -t2 -c8 -d10s --latency -s bench/post_lead.lua URL -- SAMPLE SECRET [new|repeat]
-- "repeat" posts the sample unchanged every time (a re-delivery). Answers other than 202 are
-- counted and printed as "non-202: N" at the end.

-- The sample's id, as a Lua pattern ("-" is special in patterns).
local sample_id = string.gsub("4626a582-afb9-48bf-8d86-87e6fe91a842", "%-", "%%-")
local threads = {}
local template, repeat_body, prefix, counter = nil, nil, nil, 0
bad = 0 -- a global: done() reads it from each thread with thread:get

function setup(thread)
  thread:set("number", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  template = file:read("*a")
  file:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-Api-Key"] = args[2]
  if args[3] == "repeat" then
    repeat_body = template
  end
  -- Distinct ids: the thread's number and a counter make them unique within a run, the random
  -- part (seeded by the clock) across runs.
  math.randomseed(os.time() * 1000 + number)
  prefix = string.format("%08x-%04x-4%03x", math.random(0, 0x7fffffff), number,
    math.random(0, 0xfff))
end

function request()
  if repeat_body then
    return wrk.format(nil, nil, nil, repeat_body)
  end
  counter = counter + 1
  local id = string.format("%s-8%03x-%012x", prefix, math.random(0, 0xfff), counter)
  return wrk.format(nil, nil, nil, (string.gsub(template, sample_id, id, 1)))
end

function response(status, headers, response_body)
  if status ~= 202 then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("bad")
  end
  io.write(string.format("non-202: %d\n", total))
end
