#!/bin/sh
# Every bad config under bad/ must fail `physioflow check` with exit code 2
# and print each "# expect LINE: TEXT" of its header as "FILE:LINE: ...TEXT...".
# Good configs in configs/ must pass.
exe="$1"; dir="$(dirname "$0")"; src="$2"
pass=0; fail=0
for f in "$dir"/bad/*.cfg; do
  out=$("$exe" check "$f" 2>&1); rc=$?
  if [ "$rc" -ne 2 ]; then echo "FAIL $f: exit code $rc, expected 2"; fail=$((fail+1)); continue; fi
  grep '^# expect ' "$f" | while IFS= read -r line; do
    ln=$(echo "$line" | sed 's/^# expect \([0-9]*\): .*/\1/'); text=$(echo "$line" | sed 's/^# expect [0-9]*: //')
    if echo "$out" | grep -F "$f:$ln:" | grep -qF -- "$text"; then echo ok; else echo "FAIL $f: no '$f:$ln: ...$text' in:"; echo "$out"; fi
  done > /tmp/pf_check_$$.txt
  p=$(grep -c '^ok' /tmp/pf_check_$$.txt); fl=$(grep -c '^FAIL' /tmp/pf_check_$$.txt)
  grep -v '^ok' /tmp/pf_check_$$.txt
  pass=$((pass+p)); fail=$((fail+fl))
  [ "$p" -gt 0 ] || { echo "FAIL $f has no expectations"; fail=$((fail+1)); }
done
rm -f /tmp/pf_check_$$.txt
# shipped configs are run from the repository root, with out/ made (as setup.sh does);
# check looks for their records and folders, so those over the shared data need it
mkdir -p "$src/out"
for f in "$src"/configs/*.cfg; do
  if grep -q 'shared/data' "$f" && [ ! -d "$src/../shared/data" ]; then echo "SKIP $f: ../shared/data is absent"; continue; fi
  if (cd "$src" && "$exe" check "$f" >/dev/null 2>&1); then pass=$((pass+1)); else echo "FAIL shipped config $f does not validate:"; (cd "$src" && "$exe" check "$f"); fail=$((fail+1)); fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
