-- wrk script for the upload workload: POST a 1 MiB body to /upload.
-- wrk.format() adds Content-Length from wrk.body.
wrk.method = "POST"
wrk.path = "/upload"
wrk.body = string.rep("u", 1048576)
wrk.headers["Content-Type"] = "application/octet-stream"
