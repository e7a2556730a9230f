#!/usr/bin/env bash
# The standard benchmark set (`make bench`): for each scenario a fresh server
# (temporary database, generated JWT secret, unknown chargers accepted,
# connection limits raised so that the load generator's own addresses and
# token subjects are not refused), then flashcharge-bench against it.
# Results: bench/results/<date>.json (machine description + one object per
# run) and the tables on stdout.
#
# usage: bench/run.sh [BUILD_DIR]   env: BENCH_DURATION (s, default 30),
#        BENCH_ONLY (a scenario name), BENCH_OCPP_PORT, BENCH_HTTP_PORT,
#        BENCH_STORM=1: also the restart storm (bench/storm.mjs),
#        BENCH_PROFILE=1: also record the server with perf inside each window
#        (BENCH_PROFILE_DELAY s after the bench starts, default 12, for
#        BENCH_PROFILE_SECONDS, default 8) and write where its time goes, by
#        thread, library and function, to bench/results/<date>-<name>-profile.txt
set -euo pipefail
BUILD=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
BIN="$root/$BUILD/flashcharge"
BENCH="$root/$BUILD/flashcharge-bench"
DUR=${BENCH_DURATION:-30}
OCPP_PORT=${BENCH_OCPP_PORT:-18180}
HTTP_PORT=${BENCH_HTTP_PORT:-18080}
tmp=$(mktemp -d /tmp/fc-bench.XXXXXX)
stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
server_pid=
if [ -n "${BENCH_PROFILE:-}" ] && ! command -v perf >/dev/null; then
  echo "bench: BENCH_PROFILE needs perf (Debian: apt-get install linux-perf)" >&2
  exit 1
fi

# The secret only ever sits in the environment of our two processes.
export FLASHCHARGE_JWT_SECRET=$(head -c 32 /dev/urandom | base64 | tr -d '\n')

stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=
}
cleanup() { stop_server; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

start_server() {
  rm -f "$tmp"/bench.db*
  # Only connection limits are raised; everything else is the server's default.
  "$BIN" serve --db "$tmp/bench.db" --bind 127.0.0.1 \
    --ocpp-port "$OCPP_PORT" --http-port "$HTTP_PORT" \
    --unknown-chargers accept --log-level warn \
    --rate-limit 1000 --unknown-max 200000 --unknown-rate 100000000 \
    --ui-max-clients 200000 --ui-max-per-ip 200000 \
    --ui-max-per-subject 200000 --handshake-max-per-ip 200000 \
    --handshake-rate 100000000 --handshake-burst 200000 \
    --charger-handshake-rate 10000000 --charger-handshake-burst 200000 \
    --web-root "$root/web" 2>"$tmp/server-$1.log" &
  server_pid=$!
  for _ in $(seq 100); do
    kill -0 "$server_pid" 2>/dev/null || break # e.g. a port already in use
    if (exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "bench: the server did not start; its log:" >&2
  cat "$tmp/server-$1.log" >&2
  exit 1
}

# perf's view of the server during one window: the share of each thread and
# library, then each busy thread's functions with what they call (inclusive).
profile_report() { # name
  local data="$tmp/perf-$1.data" rep="$here/results/$stamp-$1-profile.txt"
  mkdir -p "$here/results"
  {
    echo "# $1: server threads and libraries (% of the samples of the server process)"
    perf report -i "$data" --no-children --sort comm,dso -g none --stdio 2>/dev/null |
      grep -v -e '^#' -e '^$' | head -25 || true
    for comm in $(perf report -i "$data" --no-children --sort comm -g none --stdio 2>/dev/null |
      awk '!/^#/ && $1+0 >= 3 {print $2}'); do
      echo
      echo "# $1: thread $comm, functions with what they call (inclusive; % of this thread's samples)"
      perf report -i "$data" --children --comm "$comm" --percentage relative --sort sym -g none \
        --stdio 2>/dev/null | grep -v -e '^#' -e '^$' -e '\] 0x0000' | head -40 || true
    done
  } >"$rep"
  echo "bench: $1: profile in ${rep#$root/}" >&2
}

run() { # name, bench args…
  local name=$1 perf_pid=
  shift
  if [ -n "${BENCH_ONLY:-}" ] && [ "$BENCH_ONLY" != "$name" ]; then return 0; fi
  start_server "$name"
  echo "bench: $name (server pid $server_pid)" >&2
  if [ -n "${BENCH_PROFILE:-}" ]; then
    (sleep "${BENCH_PROFILE_DELAY:-12}" &&
      exec perf record -F 499 --call-graph dwarf,16384 -p "$server_pid" -o "$tmp/perf-$name.data" \
        -- sleep "${BENCH_PROFILE_SECONDS:-8}") >/dev/null 2>&1 &
    perf_pid=$!
  fi
  "$BENCH" --ocpp-url "ws://127.0.0.1:$OCPP_PORT/ocpp" --ui-url "ws://127.0.0.1:$HTTP_PORT/ws" \
    --server-pid "$server_pid" --name "$name" --json "$tmp/run-$name.json" "$@" ||
    echo "bench: $name: not clean: a UI client not connected or without its snapshots, or" \
      "(closed loop) a CALLERROR, an unanswered call or no answer at all (see above)" >&2
  if [ -n "$perf_pid" ]; then
    wait "$perf_pid" || true
    if [ -s "$tmp/perf-$name.data" ]; then profile_report "$name"; fi
    rm -f "$tmp/perf-$name.data"
  fi
  stop_server
  grep -E 'level=(error|warn)' "$tmp/server-$name.log" | sort | uniq -c | sort -rn | head -5 >&2 || true
}

run meter-1000x1-ui10000   --chargers 1000 --rate 1  --ui 10000 --watch 1   --duration "$DUR"
run fanout-100x10-ui15000  --chargers 100  --rate 10 --ui 15000 --watch 1   --duration "$DUR"
run fanout-100x10-ui150x100 --chargers 100 --rate 10 --ui 150   --watch 100 --duration "$DUR"
# Committed ingest: each charger keeps one MeterValues outstanding and sends
# the next as soon as it is answered (the answer follows the commit and the
# WAL's fsync), no UI. The rate grows with the chargers until the two cores
# are busy; a sweep on 2026-11-27 gave 13,500/s with 1,000, 13,100 with
# 2,000, 18,300-19,100 with 4,000, 21,800 with 8,000 and 22,600 with 12,000
# (round trip p50 0.37 s at 8,000; the file limit of 20,000 leaves room).
run ingest-8000            --chargers 8000 --rate max --ui 0 --watch 1 --duration "$DUR"
# How many idle UI connections one server holds: as many as the per-process
# file limit allows (20,000 here, and it cannot be raised in this container),
# less what the server keeps for other descriptors (64) and for chargers and
# REST (1,024): 18,912 browsers; more get 503.
run hold-ui18900           --chargers 10   --rate 0  --ui 18900 --watch 1   --duration 5
# The same with every browser offering permessage-deflate: what compression
# costs per connection (the server keeps no zlib state per connection).
run hold-ui18900-deflate   --chargers 10   --rate 0  --ui 18900 --watch 1   --duration 5 --deflate

# The fleet page in Chromium (bench/ui/fleet.mjs, bench/README.md): optional,
# BENCH_UI=1 (it needs chromium and tests/integration's node_modules).
if [ -n "${BENCH_UI:-}" ] && { [ -z "${BENCH_ONLY:-}" ] || [ "$BENCH_ONLY" = fleet-ui ]; }; then
  mkdir -p "$here/results"
  echo "bench: fleet-ui" >&2
  node "$here/ui/fleet.mjs" --build "$BUILD" --json "$here/results/$stamp-fleet-ui.json" >/dev/null ||
    echo "bench: fleet-ui failed" >&2
fi

# The restart storm (bench/storm.mjs, bench/README.md): optional, BENCH_STORM=1
# (or BENCH_ONLY=restart-storm); BENCH_STORM_CHARGERS (2000; 10000 on a quiet
# machine) chargers, each with a queue of BENCH_STORM_QUEUE (100) messages.
if [ -n "${BENCH_STORM:-}" ] || [ "${BENCH_ONLY:-}" = restart-storm ]; then
  mkdir -p "$here/results"
  echo "bench: restart-storm" >&2
  node "$here/storm.mjs" --build "$BUILD" --chargers "${BENCH_STORM_CHARGERS:-2000}" \
    --queue "${BENCH_STORM_QUEUE:-100}" --json "$here/results/$stamp-restart-storm.json" >/dev/null ||
    echo "bench: restart-storm failed" >&2
fi

mkdir -p "$here/results"
out="$here/results/$stamp.json"
# (With node -e there is no script argument: the files start at argv[1].)
OUT="$out" node -e '
  const fs = require("fs");
  const files = process.argv.slice(1).filter((f) => fs.existsSync(f));
  const runs = files.map((f) => JSON.parse(fs.readFileSync(f, "utf8")));
  const machine = runs.length ? runs[0].machine : {};
  for (const r of runs) delete r.machine;
  fs.writeFileSync(process.env.OUT, JSON.stringify({ date: new Date().toISOString(), machine, runs }, null, 2) + "\n");
' "$tmp"/run-*.json
echo "bench: results in ${out#$root/}" >&2
