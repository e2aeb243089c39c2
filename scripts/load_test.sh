#!/usr/bin/env bash
# Load test of the local server (release build, demo data) with wrk on loopback:
# 16 connections for 30 s over a mix of pages, sorts and filters. Fails on any error or non-200,
# or if resident memory grows by more than 10% between the first and the last sample.
# Needs wrk (Debian: apt-get install wrk; installed here when missing and running as root).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-30s}
connections=${CONNECTIONS:-16}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --locked -p devkit

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data=$(mktemp -d)
target/release/devkit serve --port "$port" --data-dir "$data" > "$data/server.log" 2> "$data/server.err" &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$data"' EXIT
until curl -s -o /dev/null "http://127.0.0.1:$port/"; do sleep 0.5; done
token=$(target/release/devkit token)
rss() { awk '/VmRSS/ { print $2 }' "/proc/$server/status"; }

cat > "$data/mix.lua" <<LUA
local queries = {
  "?limit=10", "?page=2&limit=10", "?page=50&limit=10", "?limit=100",
  "?sort=displayName:asc&limit=20", "?sort=expireAt:desc", "?sort=updatedAt", "?show-deleted=true",
  "?limit=0", "?page=9999",
}
local n = 0
wrk.headers["Authorization"] = "Bearer $token"
request = function()
  n = n + 1
  return wrk.format("GET", "/v1/organizations/demo/mdm/windows/enterprise/enrollment-tokens/" .. queries[(n % #queries) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("requests/s %.1f  p50 %.2f ms  p99 %.2f ms  errors %d  non-2xx %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
LUA

wrk -t2 -c"$connections" -d5s -s "$data/mix.lua" "http://127.0.0.1:$port" > /dev/null   # warm-up
before=$(rss)
result=$(wrk -t2 -c"$connections" -d"$duration" --latency -s "$data/mix.lua" "http://127.0.0.1:$port")
after=$(rss)
echo "$result"
echo "resident memory: ${before} kB before, ${after} kB after"
summary=$(echo "$result" | grep '^requests/s')
errors=$(echo "$summary" | awk '{ print $10 }')
non2xx=$(echo "$summary" | awk '{ print $12 }')
[ "$errors" = 0 ] && [ "$non2xx" = 0 ] || { echo "FAILED: $errors errors, $non2xx non-2xx"; exit 1; }
awk -v b="$before" -v a="$after" 'BEGIN { exit !(a <= b * 1.10) }' || { echo "FAILED: memory grew more than 10%"; exit 1; }
echo "load test passed"
