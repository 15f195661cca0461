-- bench/http_post.lua — wrk script for bench/e2e.sh: POST /v1/messages, or
-- POST /v1/messages/batch with BATCH messages per request.
--
-- Every message is new: JSON with a `to` that differs per message (thread
-- number and a counter in the digits) and a short OTP-like text; no
-- client_ref, so nothing is deduplicated. Answers are counted by status;
-- with BATCH, "ok" counts accepted messages (the answer's "accepted").
--
-- Environment (read by every wrk thread):
--   SMSGW_KEY      API key (default demo-key-change-me)
--   BATCH          0 (default): one message per POST /v1/messages; N > 0:
--                  N messages per POST /v1/messages/batch
--   SAMPLE_EVERY   keep the id of every Nth 202 per thread (0 = none)
--   STOP_AFTER     a thread stops after this many 202s (0 = run for -d)
--   STOP_FILE      a thread that stops for STOP_AFTER appends a line here;
--                  wrk itself still sleeps for -d (its main thread does), so
--                  a caller that sees every thread's line sends SIGINT
--   IDS_FILE       where done() writes the kept ids, one per line
--   COUNTS_FILE    where done() writes one line: "ok=N other=N s<code>=N ..."
--   DELAY_MS       wait this many ms before each request on a connection
--                  (paced load: about connections * 1000 / DELAY_MS per s)
--
-- wrk's own summary still counts every answer as a request; use COUNTS_FILE
-- for the 202s.

local delay_ms = tonumber(os.getenv("DELAY_MS") or "0") or 0
if delay_ms > 0 then
    function delay() return delay_ms end
end

local threads = {}
local nthreads = 0

function setup(thread)
    thread:set("tid", nthreads)
    nthreads = nthreads + 1
    table.insert(threads, thread)
end

function init(args)
    key = os.getenv("SMSGW_KEY") or "demo-key-change-me"
    sample_every = tonumber(os.getenv("SAMPLE_EVERY") or "0") or 0
    stop_after = tonumber(os.getenv("STOP_AFTER") or "0") or 0
    batch = tonumber(os.getenv("BATCH") or "0") or 0
    ok = 0
    other = 0
    stopped = false
    codes = {}
    ids = {}
    seq = 0
    wrk.method = "POST"
    wrk.path = batch > 0 and "/v1/messages/batch" or "/v1/messages"
    wrk.headers["Authorization"] = "Bearer " .. key
    wrk.headers["Content-Type"] = "application/json"
end

local function message()
    seq = seq + 1
    -- A valid NANP number (+1 NPA NXX XXXX, NXX 200..999), distinct per
    -- thread (area code) and message (8,000,000 per thread): smsgwd
    -- refuses numbers that are not (400 invalid_to).
    local npa = ({415, 212, 312, 617, 206, 303, 404, 512, 602, 702})[tid % 10 + 1]
    local n = seq % 8000000
    local to = string.format("+1%d%03d%04d", npa, 200 + math.floor(n / 10000), n % 10000)
    return '{"from":"12345","to":"' .. to .. '","text":"Your code is '
        .. string.format("%06d", seq % 1000000) .. '"}'
end

function request()
    if batch == 0 then
        return wrk.format(nil, nil, nil, message())
    end
    local parts = {}
    for i = 1, batch do parts[i] = message() end
    return wrk.format(nil, nil, nil, '{"messages":[' .. table.concat(parts, ",") .. ']}')
end

-- A batch answer: count its accepted and refused messages, keep sampled ids.
local function batch_response(status, body)
    local acc = tonumber(string.match(body, '"accepted":%s*(%d+)') or "0")
    local ref = tonumber(string.match(body, '"refused":%s*(%d+)') or "0")
    if status ~= 202 then
        local k = "s" .. status
        codes[k] = (codes[k] or 0) + 1
    end
    if sample_every > 0 then
        local n = 0
        for id in string.gmatch(body, '"id":%s*"([^"]+)"') do
            n = n + 1
            if (ok + n) % sample_every == 0 then ids[#ids + 1] = id end
        end
    end
    ok = ok + acc
    other = other + ref
end

function response(status, headers, body)
    if batch > 0 then
        batch_response(status, body)
        return
    end
    if status == 202 then
        ok = ok + 1
        if sample_every > 0 and ok % sample_every == 0 then
            local id = string.match(body, '"id":"([^"]+)"')
            if id then ids[#ids + 1] = id end
        end
        if stop_after > 0 and ok >= stop_after then
            local sf = os.getenv("STOP_FILE")
            if sf and not stopped then
                local g = io.open(sf, "a")
                if g then g:write("thread ", tid, " ok=", ok, "\n"); g:close() end
            end
            stopped = true
            wrk.thread:stop()
        end
    else
        other = other + 1
        local k = "s" .. status
        codes[k] = (codes[k] or 0) + 1
    end
end

function done(summary, latency, requests)
    local tok, tother, tcodes = 0, 0, {}
    local idf = os.getenv("IDS_FILE")
    local f = idf and io.open(idf, "w")
    for _, t in ipairs(threads) do
        tok = tok + (t:get("ok") or 0)
        tother = tother + (t:get("other") or 0)
        for k, v in pairs(t:get("codes") or {}) do
            tcodes[k] = (tcodes[k] or 0) + v
        end
        if f then
            for _, id in ipairs(t:get("ids") or {}) do f:write(id, "\n") end
        end
    end
    if f then f:close() end
    local line = string.format("ok=%d other=%d duration_us=%d requests=%d connect_err=%d read_err=%d write_err=%d timeouts=%d lat_p50_us=%d lat_p99_us=%d",
        tok, tother, summary.duration, summary.requests, summary.errors.connect,
        summary.errors.read, summary.errors.write, summary.errors.timeout,
        latency:percentile(50), latency:percentile(99))
    for k, v in pairs(tcodes) do line = line .. " " .. k .. "=" .. v end
    local cf = os.getenv("COUNTS_FILE")
    if cf then
        local g = io.open(cf, "w")
        g:write(line, "\n")
        g:close()
    end
    io.write("wrk-counts: ", line, "\n")
end
