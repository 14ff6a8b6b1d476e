#!/bin/sh
# Cost of acknowledged delivery: repeat -> passthrough -> discard, the passthrough
# with restart = 0 (plain edges) or restart = 1 (acknowledged edges: a copy kept per
# window, an ack back per window, duplicate check), for large and small windows.
# Medians of 5 runs, run interleaved; ratio acked / plain printed, for the whole run
# (wall clock, start-up of the three processes included) and for the stream itself
# (the rate the discard node reports from its first window to its last).
#   bench/scale/bench_acked.sh [build/cli/physioflow]
exe=${1:-build/cli/physioflow}
tmp=$(mktemp -d)
for size in "12 2500 3000" "1 250 20000"; do
  set -- $size
  for r in 0 1; do : > "$tmp/t$r"; : > "$tmp/s$r"; done
  for rep in 1 2 3 4 5; do
    for r in 0 1; do
      cat > "$tmp/ab.cfg" <<EOC
name = "acked$r";
nodes = ( { name = "src"; kind = "repeat"; count = $3; leads = $1; samples = $2; },
          { name = "p"; kind = "passthrough"; restart = $r; },
          { name = "d"; kind = "discard"; } );
edges = ( { from = "src"; to = "p"; }, { from = "p"; to = "d"; } );
EOC
      s=$(date +%s.%N); "$exe" run "$tmp/ab.cfg" 2>"$tmp/log" || echo "run failed" >&2; e=$(date +%s.%N)
      echo "$3 / ($e - $s)" | bc -l >> "$tmp/t$r"
      sed -n 's/.*\[d\.0\] received .* s: \([0-9]*\) windows\/s.*/\1/p' "$tmp/log" >> "$tmp/s$r"
    done
  done
  p=$(sort -n "$tmp/t0" | sed -n 3p); a=$(sort -n "$tmp/t1" | sed -n 3p)
  sp=$(sort -n "$tmp/s0" | sed -n 3p); sa=$(sort -n "$tmp/s1" | sed -n 3p)
  printf "%2d leads x %4d samples (%6d B): whole run plain %7.0f win/s, acked %7.0f, acked/plain %.2f; stream plain %7.0f, acked %7.0f, acked/plain %.2f\n" \
    "$1" "$2" $(($1 * $2 * 4)) "$p" "$a" "$(echo "$a / $p" | bc -l)" "$sp" "$sa" "$(echo "$sa / $sp" | bc -l)"
done
rm -rf "$tmp"
