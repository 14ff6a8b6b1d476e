#!/bin/sh
# Benchmark-style fuzzing of the wire decoder: 10^7 inputs through the libFuzzer
# harness (ASan + UBSan), starting from the seed corpus; prints libFuzzer's final
# stats. Any crash stops the run with exit code != 0 and leaves crash-* files.
#   bench/scale/fuzz_wire.sh [BUILD_DIR] [RUNS]
build="${1:-build}"; runs="${2:-10000000}"
src="$(cd "$(dirname "$0")/../.." && pwd)"
exe="$build/tests/scale/fuzz_wire"
[ -x "$exe" ] || { echo "no $exe (needs clang with libFuzzer)"; exit 2; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cp "$src"/tests/scale/fuzz/corpus/wire/* "$work/"
start=$(date +%s)
ASAN_OPTIONS=detect_leaks=1 "$exe" -runs="$runs" -seed=7 -max_len=8192 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/crash-" "$work" > "$work.log" 2>&1
rc=$?
end=$(date +%s)
grep -E '^(stat::|#[0-9]+ +DONE|==[0-9]+==ERROR|SUMMARY)' "$work.log"
[ "$rc" -eq 0 ] || { echo "fuzz_wire: FAILED (exit $rc); crash inputs kept in $work.crashes"; mkdir -p "$work.crashes"; cp "$work"/crash-* "$work.crashes"/ 2>/dev/null; }
rm -f "$work.log"
echo "fuzz_wire: $runs inputs in $((end - start)) s"
exit "$rc"
