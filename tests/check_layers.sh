#!/bin/sh
# The layering rules of docs/architecture.md, checked on the sources' includes:
# runtime/ includes only runtime/; graph/ only graph/ and runtime/ (no node
# code); nodes/dsp no model code; nodes/model only model/, runtime/ and the
# HDF5 helpers pf_h5.h, pf_embfile.h; cli/ no HDF5 (it reads sink output via pf_h5win_read.h).
src="$1"; pass=0; fail=0
# allowed SRCDIR DIR...: every #include "x" of SRCDIR's files must exist in one of the DIRs
allowed() {
  dir=$1; shift
  for f in "$src/$dir"/*.c "$src/$dir"/*.h; do
    [ -f "$f" ] || continue
    for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
      ok=0
      for e in $extra; do [ "$inc" = "$e" ] && ok=1; done
      for d in "$@"; do [ -f "$src/$d/$inc" ] && ok=1; done
      if [ $ok = 1 ]; then pass=$((pass+1)); else echo "FAIL: $f includes \"$inc\", outside $*"; fail=$((fail+1)); fi
    done
  done
}
extra=""
allowed runtime runtime
allowed graph graph runtime
allowed nodes/dsp nodes/dsp runtime
extra="pf_h5.h pf_embfile.h" allowed nodes/model nodes/model runtime
extra=""
for f in $(find "$src/cli" -name '*.[ch]'); do
  if grep -q '#[[:space:]]*include[[:space:]]*<hdf5' "$f"; then echo "FAIL: $f includes hdf5.h"; fail=$((fail+1)); else pass=$((pass+1)); fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
