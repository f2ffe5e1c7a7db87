# Shared by the live checks in .ci: start a server exactly as `make run` does, on its own port and database.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERVER_PID=""

# start_server PORT WORKDIR [NAME=VALUE ...]: `make run` in the background, in a process group of its own.
start_server() {
  local port=$1 work=$2
  shift 2
  (cd "$ROOT" && exec env DATABASE_URL="sqlite:///$work/server.db" PORT="$port" "$@" setsid make run) \
    >"$work/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 120); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  cat "$work/server.log"
  echo "the server on port $port did not start"
  return 1
}

stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
