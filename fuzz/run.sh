#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 20) and prints its executions; exits non-zero on
# a crash, with the input that caused it under fuzz/artifacts/<target>/.
#   bash fuzz/run.sh 20                      # CI
#   nice -n 10 bash fuzz/run.sh 1200         # a longer local campaign
#   FUZZ_TARGETS="form config" bash fuzz/run.sh 60
#   FUZZ_RUNS=10000000 bash fuzz/run.sh 3600  # stop each target at 10 M executions
# Seeds are read from fuzz/corpus/<target>/ (committed); what the fuzzer learns goes to
# fuzz/target/corpus/<target>/, so a run never dirties the work tree. Safe Rust (the workspace
# forbids `unsafe`): no sanitizer, but overflow checks and debug assertions are on.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-20}"
export PATH="$HOME/.cargo/bin:$PATH"
# cargo-fuzz passes a few unstable flags to rustc; this lets the stable toolchain accept them.
export RUSTC_BOOTSTRAP=1
target_dir="${FUZZ_TARGET_DIR:-target}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi

targets="${FUZZ_TARGETS:-$(cargo fuzz list)}"
build=(--sanitizer none --release --target-dir "$target_dir")
cargo fuzz build "${build[@]}" 2>&1 | tail -n 3

failed=0
for t in $targets; do
    work="$target_dir/corpus/$t"
    mkdir -p "$work" "artifacts/$t"
    log="$target_dir/fuzz-$t.log"
    # -rss_limit_mb: a parser that balloons on a small input is a bug too (denial of service).
    runs=()
    if [ -n "${FUZZ_RUNS:-}" ]; then runs=(-runs="$FUZZ_RUNS"); fi
    start=$(date +%s)
    if cargo fuzz run "${build[@]}" "$t" "$work" "corpus/$t" -- \
        -max_total_time="$seconds" "${runs[@]}" -print_final_stats=1 -rss_limit_mb=2048 \
        -timeout=10 >"$log" 2>&1; then
        crashes=0
    else
        crashes=1
        failed=1
    fi
    execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log" | tail -n 1)
    execs="${execs:-0}"
    took=$(( $(date +%s) - start ))
    [ "$took" -gt 0 ] || took=1
    echo "fuzz $t: $execs executions in $took s ($((execs / took))/s), $crashes crashes"
    if [ "$crashes" -ne 0 ]; then
        grep -E "panicked|ERROR|SUMMARY|Test unit written" "$log" | head -n 20 || tail -n 40 "$log"
    fi
done
exit "$failed"
