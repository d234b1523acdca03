-- Every request asks the server to close the connection after its response: wrk opens a new
-- connection for the next one (as clients and balancers without keep-alive, and health checks).
wrk.headers["Connection"] = "close"
