-- bench/http_post_batch.lua — wrk script for bench/e2e.sh with E2E_BATCH=N:
-- POST /v1/messages/batch, N messages per request, each with its own `to`
-- (thread number and a counter in the digits) and a short OTP-like text.
-- Counts accepted messages (not requests) from each answer's "accepted".
--
-- Environment (read by every wrk thread):
--   SMSGW_KEY      API key (default demo-key-change-me)
--   BATCH          messages per request (default 100)
--   SAMPLE_EVERY   keep every Nth message id per thread (0 = none)
--   IDS_FILE, COUNTS_FILE, DELAY_MS as in bench/http_post.lua

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
    batch = tonumber(os.getenv("BATCH") or "100") or 100
    sample_every = tonumber(os.getenv("SAMPLE_EVERY") or "0") or 0
    ok = 0
    other = 0
    reqs = 0
    codes = {}
    ids = {}
    seq = 0
    wrk.method = "POST"
    wrk.path = "/v1/messages/batch"
    wrk.headers["Authorization"] = "Bearer " .. key
    wrk.headers["Content-Type"] = "application/json"
end

function request()
    local parts = {}
    for i = 1, batch do
        seq = seq + 1
        local to = string.format("+1415%d%07d", tid % 10, seq % 10000000)
        parts[i] = '{"from":"12345","to":"' .. to .. '","text":"Your code is '
            .. string.format("%06d", seq % 1000000) .. '"}'
    end
    return wrk.format(nil, nil, nil, '{"messages":[' .. table.concat(parts, ",") .. ']}')
end

function response(status, headers, body)
    reqs = reqs + 1
    local acc = tonumber(string.match(body, '"accepted":(%d+)') or "0")
    local ref = tonumber(string.match(body, '"refused":(%d+)') or "0")
    ok = ok + acc
    other = other + ref
    if status ~= 202 then
        local k = "s" .. status
        codes[k] = (codes[k] or 0) + 1
    end
    if sample_every > 0 then
        local n = 0
        for id in string.gmatch(body, '"id":"([^"]+)"') do
            n = n + 1
            if (ok - acc + n) % sample_every == 0 then ids[#ids + 1] = id end
        end
    end
end

function done(summary, latency, requests)
    local tok, tother, treqs, tcodes = 0, 0, 0, {}
    local idf = os.getenv("IDS_FILE")
    local f = idf and io.open(idf, "w")
    for _, t in ipairs(threads) do
        tok = tok + (t:get("ok") or 0)
        tother = tother + (t:get("other") or 0)
        treqs = treqs + (t:get("reqs") or 0)
        for k, v in pairs(t:get("codes") or {}) do
            tcodes[k] = (tcodes[k] or 0) + v
        end
        if f then
            for _, id in ipairs(t:get("ids") or {}) do f:write(id, "\n") end
        end
    end
    if f then f:close() end
    local line = string.format("ok=%d other=%d duration_us=%d requests=%d connect_err=%d read_err=%d write_err=%d timeouts=%d lat_p50_us=%d lat_p99_us=%d batch_requests=%d",
        tok, tother, summary.duration, summary.requests, summary.errors.connect,
        summary.errors.read, summary.errors.write, summary.errors.timeout,
        latency:percentile(50), latency:percentile(99), treqs)
    for k, v in pairs(tcodes) do line = line .. " " .. k .. "=" .. v end
    local cf = os.getenv("COUNTS_FILE")
    if cf then
        local g = io.open(cf, "w")
        g:write(line, "\n")
        g:close()
    end
    io.write("wrk-counts: ", line, "\n")
end
