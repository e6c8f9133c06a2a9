#!/usr/bin/env bash
# Throughput of the sample API guarded vs unguarded (the `--no-auth` benchmark-only baseline),
# measured with wrk on 127.0.0.1 only, for a bounded time. Prints the ratio guarded/unguarded.
#
#   crates/guard/bench/load.sh                 # 3 rounds of 10 s per mode
#   ROUNDS=5 DURATION=20s crates/guard/bench/load.sh
#   RUST_LOG=warn crates/guard/bench/load.sh   # without the per-request log line
#
# Both modes get the same request (with the bearer token). The API runs on core 0 and wrk on
# core 1 when taskset is available (PIN=0 to disable). Needs wrk
# (`apt-get install -y wrk`) and curl.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-18080}
PIN=${PIN:-1}
export RUST_LOG=${RUST_LOG:-info}

root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get update && apt-get install -y wrk" >&2; exit 1; }

cargo build --quiet --release -p todo-api --bin todo-api
cargo build --quiet --release -p trustframe-guard --features test-issuer --example test_issuer
bin="$root/target/release"

server_cpu=() client_cpu=()
if [[ "$PIN" == 1 ]] && command -v taskset >/dev/null && (( $(nproc) >= 2 )); then
  server_cpu=(taskset -c 0) client_cpu=(taskset -c 1)
fi

work=$(mktemp -d)
issuer_pid="" api_pid=""
cleanup() {
  [[ -n "$api_pid" ]] && kill "$api_pid" 2>/dev/null || true
  [[ -n "$issuer_pid" ]] && kill "$issuer_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The test issuer: a local B2C-shaped provider on 127.0.0.1:0; prints METADATA_URL, AUDIENCE, TOKEN.
"$bin/examples/test_issuer" >"$work/issuer.env" 2>"$work/issuer.log" &
issuer_pid=$!
for _ in $(seq 100); do grep -q '^TOKEN=' "$work/issuer.env" && break; sleep 0.1; done
# shellcheck disable=SC1091
source "$work/issuer.env"

start_api() { # args: todo-api flags
  "${server_cpu[@]}" "$bin/todo-api" --listen "127.0.0.1:$PORT" "$@" >"$work/api.log" 2>&1 &
  api_pid=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && return 0
    sleep 0.1
  done
  echo "todo-api did not start:" >&2; cat "$work/api.log" >&2; exit 1
}

stop_api() { kill "$api_pid"; wait "$api_pid" 2>/dev/null || true; api_pid=""; }

measure() { # mode, then todo-api flags; prints requests/s
  local mode=$1; shift
  start_api "$@"
  local status
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/values")
  [[ "$status" == 200 ]] || { echo "$mode: /api/values answered $status" >&2; cat "$work/api.log" >&2; exit 1; }
  "${client_cpu[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" \
    -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/values" >"$work/wrk.txt"
  stop_api
  if grep -q 'Non-2xx' "$work/wrk.txt"; then
    echo "$mode: some answers were not 200:" >&2; cat "$work/wrk.txt" >&2; exit 1
  fi
  awk '/^Requests\/sec:/ { print $2 }' "$work/wrk.txt"
}

echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, RUST_LOG=$RUST_LOG, pinned: ${server_cpu[*]:-no}"
ratios=()
for round in $(seq "$ROUNDS"); do
  unguarded=$(measure unguarded --no-auth)
  guarded=$(measure guarded --metadata "$METADATA_URL" --client-id "$AUDIENCE" --policy "$POLICY")
  ratio=$(awk -v g="$guarded" -v u="$unguarded" 'BEGIN { printf "%.2f", g / u }')
  ratios+=("$ratio")
  printf 'round %d: unguarded %10.0f req/s   guarded %10.0f req/s   ratio %s\n' \
    "$round" "$unguarded" "$guarded" "$ratio"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
echo "median ratio guarded/unguarded: $median (target >= 0.7)"
