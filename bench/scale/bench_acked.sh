#!/bin/sh
# Cost of acknowledged delivery: repeat -> passthrough -> discard, the passthrough
# with restart = 0 (plain edges) or restart = 1 (acknowledged edges: a copy kept per
# window, acks back, duplicate check), for large and small windows.
# Medians of REPS runs (default 5), run interleaved; ratio acked / plain printed, for the
# whole run (wall clock, start-up of the three processes included) and for the stream
# itself (the rate the discard node reports from its first window to its last).
# With a second executable (an older build), both are run interleaved, each against its
# own plain run: a before/after comparison under the same load.
#   bench/scale/bench_acked.sh [build/cli/physioflow] [baseline-physioflow] [reps]
exe=${1:-build/cli/physioflow}
base=$2
reps=${3:-5}
mid=$(( (reps + 1) / 2 ))
tmp=$(mktemp -d)
for size in "12 2500 3000" "1 250 20000"; do
  set -- $size
  for b in new old; do for r in 0 1; do : > "$tmp/t$b$r"; : > "$tmp/s$b$r"; done; done
  for rep in $(seq 1 "$reps"); do
    for b in new old; do
      x=$exe; [ $b = old ] && x=$base
      [ -z "$x" ] && continue
      for r in 0 1; do
        cat > "$tmp/ab.cfg" <<EOC
name = "acked$r";
nodes = ( { name = "src"; kind = "repeat"; count = $3; leads = $1; samples = $2; },
          { name = "p"; kind = "passthrough"; restart = $r; },
          { name = "d"; kind = "discard"; } );
edges = ( { from = "src"; to = "p"; }, { from = "p"; to = "d"; } );
EOC
        s=$(date +%s.%N); "$x" run "$tmp/ab.cfg" 2>"$tmp/log" || echo "run failed" >&2; e=$(date +%s.%N)
        echo "$3 / ($e - $s)" | bc -l >> "$tmp/t$b$r"
        sed -n 's/.*\[d\.0\] received .* s: \([0-9]*\) windows\/s.*/\1/p' "$tmp/log" >> "$tmp/s$b$r"
      done
    done
  done
  for b in new old; do
    [ $b = old ] && [ -z "$base" ] && continue
    label=$exe; [ $b = old ] && label=$base
    p=$(sort -n "$tmp/t${b}0" | sed -n ${mid}p); a=$(sort -n "$tmp/t${b}1" | sed -n ${mid}p)
    sp=$(sort -n "$tmp/s${b}0" | sed -n ${mid}p); sa=$(sort -n "$tmp/s${b}1" | sed -n ${mid}p)
    printf "%2d leads x %4d samples (%6d B) %s: whole run plain %7.0f win/s, acked %7.0f, acked/plain %.2f; stream plain %7.0f, acked %7.0f, acked/plain %.2f\n" \
      "$1" "$2" $(($1 * $2 * 4)) "$label" "$p" "$a" "$(echo "$a / $p" | bc -l)" "$sp" "$sa" "$(echo "$sa / $sp" | bc -l)"
  done
done
rm -rf "$tmp"
