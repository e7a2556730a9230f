#!/usr/bin/env bash
# `make run`: the server, and once it listens, a few simulated chargers
# against it. Ctrl-C stops both (the simulator first, then the server).
# usage: tools/run-with-sim.sh BUILD_DIR   env: SIM_COUNT (3), SIM_SPEED (10),
#        FLASHCHARGE_OCPP_PORT / FLASHCHARGE_HTTP_PORT as for `serve`.
set -euo pipefail
BUILD=${1:-build}
OCPP_PORT=${FLASHCHARGE_OCPP_PORT:-8180}
HTTP_PORT=${FLASHCHARGE_HTTP_PORT:-8080}
export FLASHCHARGE_UNKNOWN_CHARGERS=${FLASHCHARGE_UNKNOWN_CHARGERS:-accept}
# every simulated charger is unknown: room for all of them at once
n=${SIM_COUNT:-3}
export FLASHCHARGE_UNKNOWN_MAX=${FLASHCHARGE_UNKNOWN_MAX:-$((n > 100 ? n : 100))}
export FLASHCHARGE_UNKNOWN_RATE=${FLASHCHARGE_UNKNOWN_RATE:-$((n > 120 ? n : 120))}
TAG=04A1B2C3
"./$BUILD/flashcharge" tag add "$TAG" >/dev/null   # the tag the simulator presents
server=; sim=
stop() {
  trap - INT TERM EXIT
  [ -n "$sim" ] && kill -TERM "$sim" 2>/dev/null && wait "$sim" 2>/dev/null
  [ -n "$server" ] && kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null
  exit 0
}
trap stop INT TERM EXIT
"./$BUILD/flashcharge" serve &
server=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$OCPP_PORT") 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || exit 1
  sleep 0.1
done
"./$BUILD/flashcharge-sim" --count "${SIM_COUNT:-3}" --speed "${SIM_SPEED:-10}" --tag "$TAG" \
  --url "ws://127.0.0.1:$OCPP_PORT/ocpp" &
sim=$!
wait "$server"
