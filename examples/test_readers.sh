#!/bin/sh
# ctest for the reader examples, on the files the example graph's two sinks
# wrote: the C reader (mode c) must list all 12 windows (4 records x 3) with
# R-peaks and 159 features; the Python reader (mode py) must print exactly the
# same lines.   test_readers.sh c|py C_EXAMPLE PY_EXAMPLE SINK_PATH REPLICAS
mode=$1 cexe=$2 py=$3 path=$4 replicas=$5
python=${PF_PYTHON:-python3}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
"$cexe" "$path" "$replicas" > "$tmp/c.txt" || { echo "FAIL: C reader exit $?"; exit 1; }
if [ "$mode" = py ]; then
    "$python" -c "import h5py" 2>/dev/null || { echo "SKIP: $python has no h5py (Debian: python3-h5py)"; exit 77; }
    "$python" "$py" "$path" "$replicas" > "$tmp/py.txt" || { echo "FAIL: Python reader exit $?"; exit 1; }
    diff "$tmp/c.txt" "$tmp/py.txt" || { echo "FAIL: the Python and C readers disagree"; exit 1; }
    out=$tmp/py.txt
else
    out=$tmp/c.txt
fi
cat "$out"
files=$(grep -c "windows of 3 x 2500, .* complete 1, features 159" "$out")
windows=$(grep -c "^  synth-.* R-peaks (first" "$out")
[ "$files" = "$replicas" ] || { echo "FAIL: $files of $replicas files complete with 159 features"; exit 1; }
[ "$windows" = 12 ] || { echo "FAIL: $windows windows with R-peaks, expected 12"; exit 1; }
echo "ok: $replicas files, $windows windows"
