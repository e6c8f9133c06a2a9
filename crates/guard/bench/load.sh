#!/usr/bin/env bash
# Throughput of the sample API guarded vs unguarded (the `--no-auth` benchmark-only baseline),
# measured with wrk on 127.0.0.1 only, for a bounded time. Prints the ratio guarded/unguarded,
# for the default guard (verified-token cache on: wrk reuses one token, as a client reuses its
# access token) and with the cache off (`--token-cache 0`: one RSA verification per request).
#
#   crates/guard/bench/load.sh                 # 3 rounds of 10 s per mode
#   ROUNDS=5 DURATION=20s crates/guard/bench/load.sh
#   RUST_LOG=warn crates/guard/bench/load.sh   # without the per-request log line
#
# Both modes get the same request (with the bearer token). The API runs on core 0 and wrk on
# core 1 when taskset is available (PIN=0 to disable). Modes are interleaved round by round and
# the median ratio is reported, because other work on the machine moves the numbers. Besides
# requests/s, it reports the API's CPU time per request (from /proc), which such noise moves far
# less. Needs wrk (`apt-get install -y wrk`) and curl.
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
  if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then
    echo "127.0.0.1:$PORT is already in use; set PORT" >&2; exit 1
  fi
  "${server_cpu[@]}" "$bin/todo-api" --listen "127.0.0.1:$PORT" "$@" >"$work/api.log" 2>&1 &
  api_pid=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && return 0
    sleep 0.1
  done
  echo "todo-api did not start:" >&2; cat "$work/api.log" >&2; exit 1
}

stop_api() { kill "$api_pid"; wait "$api_pid" 2>/dev/null || true; api_pid=""; }

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

measure() { # mode, then todo-api flags; prints "requests/s CPU-µs/request"
  local mode=$1; shift
  start_api "$@"
  local status
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/values")
  [[ "$status" == 200 ]] || { echo "$mode: /api/values answered $status" >&2; cat "$work/api.log" >&2; exit 1; }
  local ticks_before ticks_after
  ticks_before=$(cpu_ticks "$api_pid")
  "${client_cpu[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" \
    -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/values" >"$work/wrk.txt"
  ticks_after=$(cpu_ticks "$api_pid")
  stop_api
  if grep -q 'Non-2xx' "$work/wrk.txt"; then
    echo "$mode: some answers were not 200:" >&2; cat "$work/wrk.txt" >&2; exit 1
  fi
  awk -v ticks=$((ticks_after - ticks_before)) -v hz="$(getconf CLK_TCK)" '
    / requests in / { requests = $1 }
    /^Requests\/sec:/ { rps = $2 }
    END { printf "%s %.1f\n", rps, ticks / hz * 1e6 / requests }' "$work/wrk.txt"
}

echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, RUST_LOG=$RUST_LOG, pinned: ${server_cpu[*]:-no}"
auth=(--metadata "$METADATA_URL" --client-id "$AUDIENCE" --policy "$POLICY")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
declare -a rps_cached rps_uncached cpu_cached cpu_uncached
for round in $(seq "$ROUNDS"); do
  read -r u_rps u_cpu < <(measure unguarded --no-auth)
  read -r g_rps g_cpu < <(measure guarded "${auth[@]}")
  read -r n_rps n_cpu < <(measure guarded-no-cache "${auth[@]}" --token-cache 0)
  rps_cached+=("$(ratio "$g_rps" "$u_rps")") rps_uncached+=("$(ratio "$n_rps" "$u_rps")")
  cpu_cached+=("$(ratio "$u_cpu" "$g_cpu")") cpu_uncached+=("$(ratio "$u_cpu" "$n_cpu")")
  printf 'round %d: unguarded %6.0f req/s %5.1f µs CPU/req | guarded %6.0f req/s %5.1f µs | guarded, cache off %6.0f req/s %5.1f µs\n' \
    "$round" "$u_rps" "$u_cpu" "$g_rps" "$g_cpu" "$n_rps" "$n_cpu"
done
echo "median ratio guarded/unguarded, requests/s:                $(printf '%s\n' "${rps_cached[@]}" | median) (target >= 0.7)"
echo "median ratio guarded/unguarded, by CPU per request:        $(printf '%s\n' "${cpu_cached[@]}" | median)"
echo "median ratio guarded with the cache off/unguarded, req/s:  $(printf '%s\n' "${rps_uncached[@]}" | median)"
echo "median ratio guarded with the cache off/unguarded, by CPU: $(printf '%s\n' "${cpu_uncached[@]}" | median)"
