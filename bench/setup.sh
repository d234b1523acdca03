#!/usr/bin/env bash
# Create the benchmark environment: bench/.venv with the peer servers, plus wrk.
#
# Usage: bash bench/setup.sh
#
# Idempotent: re-running only installs what is missing or upgrades peers.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT_DIR="$(dirname "$BENCH_DIR")"
PYTHON="${PYTHON:-python3.11}"

# wrk is the HTTP load generator for hello/stream/upload/rss.
if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
    else
        echo "wrk is missing; install it (e.g. sudo apt-get install wrk)" >&2
        exit 1
    fi
fi

# h2load (nghttp2-client) is the HTTP/2 load generator of bench/h2load.py.
if ! command -v h2load >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nghttp2-client
    else
        echo "h2load is missing; install it (e.g. sudo apt-get install nghttp2-client)" >&2
        exit 1
    fi
fi

# taskset (util-linux) pins servers and load generators to separate cores.
if ! command -v taskset >/dev/null 2>&1; then
    echo "taskset is missing (package util-linux)" >&2
    exit 1
fi

if [ ! -x "$BENCH_DIR/.venv/bin/python" ]; then
    "$PYTHON" -m venv "$BENCH_DIR/.venv"
fi
VPY="$BENCH_DIR/.venv/bin/python"

"$VPY" -m pip install -q --upgrade pip
# Peers get their newest releases so the comparison is against current code.
"$VPY" -m pip install -q --upgrade \
    "uvicorn[standard]" httptools uvloop hypercorn "gunicorn>=23" granian \
    websockets psutil
# run.py --render draws the tables as charts (bench/charts.py)
"$VPY" -m pip install -q matplotlib

# Older gunicorn has no native ASGI worker; uvicorn-worker provides one then.
if ! "$VPY" - <<'EOF'
import importlib.util, sys
sys.exit(0 if importlib.util.find_spec("gunicorn.workers.gasgi") else 1)
EOF
then
    "$VPY" -m pip install -q --upgrade uvicorn-worker
fi

# asgi-master itself, editable, once the package has a pyproject.
if [ -f "$ROOT_DIR/pyproject.toml" ]; then
    "$VPY" -m pip install -q -e "$ROOT_DIR" || \
        echo "warning: pip install -e $ROOT_DIR failed; asgi-master will be skipped" >&2
fi

"$VPY" -m pip list 2>/dev/null | grep -iE '^(uvicorn|uvloop|httptools|hypercorn|gunicorn|granian|websockets|uvicorn-worker|asgi-master) ' || true
echo "bench venv ready: $VPY"
