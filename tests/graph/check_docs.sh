#!/bin/sh
# Every node kind has docs/nodes/KIND.md, and the page names each of its parameters.
exe="$1"; src="$2"; pass=0; fail=0
for k in $("$exe" kinds | awk '{print $1}'); do
  page="$src/docs/nodes/$k.md"
  if [ ! -f "$page" ]; then echo "FAIL: no $page"; fail=$((fail+1)); continue; fi
  pass=$((pass+1))
  for p in $("$exe" kinds "$k" | awk 'NR>1 && /^  [a-z_]+ +(integer|number|boolean|string|list)/ {print $1}'); do
    if grep -q "\`$p\`" "$page"; then pass=$((pass+1)); else echo "FAIL: $page does not describe parameter '$p'"; fail=$((fail+1)); fi
  done
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
