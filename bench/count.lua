-- wrk script that stops after BENCH_REQUESTS responses (default 100000).
-- Used by the rss workload, which needs a request count rather than a duration.
-- Run it with -t1 so the count is global; -d still bounds the run in time.
local limit = tonumber(os.getenv("BENCH_REQUESTS") or "100000")
local seen = 0

function response(status, headers, body)
    seen = seen + 1
    if seen >= limit then
        wrk.thread:stop()
    end
end
