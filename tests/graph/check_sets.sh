#!/bin/sh
# --set NODE.PARAM=VALUE / KEY=VALUE overrides: applied as if written in the file,
# validated like the file, errors naming the override; `run` hands them to every
# node process (the demo's synth then makes the overridden number of windows).
exe="$1"; src="$2"; cfg="$(dirname "$0")/sets.cfg"
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { echo "FAIL: $*"; fail=$((fail+1)); }
t=$(mktemp -d)
"$exe" check "$cfg" --set synth.records=2 --set seed=3 >/dev/null 2>&1 && ok || bad "good overrides refused"
out=$("$exe" check "$cfg" --set nosuch.x=1 2>&1); [ $? -eq 2 ] && echo "$out" | grep -q "no node named 'nosuch'" && ok || bad "unknown node: $out"
out=$("$exe" check "$cfg" --set 'synth.leads="twelve"' 2>&1); [ $? -eq 2 ] && echo "$out" | grep -q "^--set (command line): .*leads" && ok || bad "wrong type not named as an override: $out"
out=$("$exe" check "$cfg" --set 'synth.leads=[1,' 2>&1); [ $? -eq 2 ] && echo "$out" | grep -q "is not a value" && ok || bad "unparsable value: $out"
out=$("$exe" check "$cfg" --set synth.kind='"sink"' 2>&1); [ $? -eq 2 ] && echo "$out" | grep -q "cannot be overridden" && ok || bad "kind override: $out"
out=$("$exe" check "$cfg" --set noequals 2>&1); [ $? -eq 2 ] && echo "$out" | grep -q "expected NODE.PARAM=VALUE" && ok || bad "no '=': $out"
# run: every node process sees the overrides
if "$exe" run "$cfg" --quiet --set "sink.path=\"$t/o.h5\"" --set synth.records=1 --set synth.duration=70.0 >/dev/null 2>&1 \
   && [ -f "$t/o.h5" ]; then ok; else bad "run with overrides"; fi
n=$(/usr/bin/python3 -c "import h5py; print(h5py.File('$t/o.h5')['data'].shape[0])" 2>&1)
[ "$n" = "7" ] && ok || bad "overridden synth made $n windows, expected 7"
rm -rf "$t"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
