#!/bin/sh
# `physioflow eval rpeaks` and `eval delineation` from the command line on the
# shared real records: tables printed, annotation files written where asked.
exe="$1"; data="${PF_SHARED_DATA:-}"
if [ ! -d "$data/mitdb" ] || [ ! -d "$data/ludb" ]; then echo "SKIP: shared data not found at '$data' (needs mitdb and ludb)"; exit 77; fi
out=$(mktemp -d); pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { echo "FAIL: $*"; fail=$((fail+1)); }
"$exe" eval rpeaks --data "$data/mitdb" --ann-out "$out/qrs/deep" 101 203 > "$out/r.txt" 2>&1 && ok || bad "eval rpeaks exit code"
grep -q "^gross" "$out/r.txt" && grep -q "^203 " "$out/r.txt" && ok || bad "table: $(cat "$out/r.txt")"
[ -s "$out/qrs/deep/101.qrs" ] && [ -s "$out/qrs/deep/203.qrs" ] && ok || bad "annotation files written (folders created)"
# the same detector as real node processes (reader -> rpeak -> sink): same beats found
"$exe" eval rpeaks --pipeline --data "$data/mitdb" 101 203 > "$out/p.txt" 2>&1 && ok || bad "eval rpeaks --pipeline exit code: $(tail -3 "$out/p.txt")"
tp_in=$(awk '$1=="gross"{print $2}' "$out/r.txt"); tp_pi=$(awk '$1=="gross"{print $2}' "$out/p.txt")
[ -n "$tp_in" ] && [ "$tp_in" = "$tp_pi" ] && ok || bad "pipeline finds the same beats as in-process ($tp_pi vs $tp_in)"
"$exe" eval rpeaks --data "$data/mitdb" 999 > "$out/e.txt" 2>&1; rc=$?
[ "$rc" -ne 0 ] && grep -q "999.hea" "$out/e.txt" && ok || bad "missing record named in the error: $(cat "$out/e.txt")"
"$exe" eval rpeaks 101 > /dev/null 2>&1; [ $? -eq 2 ] && ok || bad "usage error without --data"
# one unreadable record: a row saying why, the others scored (gross over them), exit 1
"$exe" eval rpeaks --data "$data/mitdb" 101 999 203 > "$out/m.txt" 2>&1; rc=$?
[ "$rc" -eq 1 ] && grep -q "^999 *not scored: .*999.hea" "$out/m.txt" && grep -q "^101 " "$out/m.txt" && grep -q "^203 " "$out/m.txt" &&
  [ "$(awk '$1=="gross"{print $2}' "$out/m.txt")" = "$tp_in" ] && ok || bad "unreadable record reported, the rest scored: rc $rc $(cat "$out/m.txt")"
# a 0-byte .atr is refused, not scored as Se 0 %
mkdir "$out/empty" && ln -s "$data/mitdb/101.hea" "$data/mitdb/101.dat" "$out/empty/" && : > "$out/empty/101.atr"
"$exe" eval rpeaks --data "$out/empty" 101 > "$out/z.txt" 2>&1; rc=$?
[ "$rc" -eq 1 ] && grep -q "^101 *not scored: .*empty annotation file" "$out/z.txt" && ok || bad "0-byte .atr refused: rc $rc $(cat "$out/z.txt")"
# a failed --pipeline run leaves no temporary output behind (a truncated signal file fails the reader)
mkdir "$out/trunc" && ln -s "$data/mitdb/101.hea" "$data/mitdb/101.atr" "$out/trunc/" && head -c 100000 "$data/mitdb/101.dat" > "$out/trunc/101.dat"
"$exe" eval rpeaks --pipeline --data "$out/trunc" 101 > "$out/t.txt" 2>&1 & epid=$!
wait $epid; rc=$?
[ "$rc" -ne 0 ] && [ ! -e "/tmp/pf-eval-$epid.h5.partial" ] && [ ! -e "/tmp/pf-eval-$epid.h5" ] && [ ! -e "/tmp/pf-eval-$epid.cfg" ] && ok ||
  bad "failed pipeline cleans up (rc $rc): $(ls /tmp/pf-eval-$epid* 2>&1) $(tail -3 "$out/t.txt")"
"$exe" eval delineation --data "$data/ludb/data" --ann-out "$out/del" 1 2 > "$out/d.txt" 2>&1 && ok || bad "eval delineation exit code: $(tail -3 "$out/d.txt")"
grep -qi "qrs" "$out/d.txt" && ok || bad "delineation table: $(cat "$out/d.txt")"
[ -n "$(ls "$out/del" 2>/dev/null)" ] && ok || bad "delineation annotation files written"
grep -q "consensus over the leads" "$out/d.txt" && ok || bad "consensus table printed: $(cat "$out/d.txt")"
# --errors: one CSV row per scored boundary, per lead and for the consensus
"$exe" eval delineation --data "$data/ludb/data" --errors "$out/err.csv" 1 > /dev/null 2>&1 && ok || bad "eval delineation --errors exit code"
head -1 "$out/err.csv" | grep -q "^record,lead,boundary,annotation,detection$" && ok || bad "errors CSV header: $(head -1 "$out/err.csv")"
grep -q "^1,ii,QRS on,[0-9]*,[0-9]*$" "$out/err.csv" && grep -q "^1,consensus,T off," "$out/err.csv" && ok || bad "errors CSV rows: $(head -3 "$out/err.csv")"
# the table's QRS-onset row (per lead) recomputed from the CSV: mean, pooled
# SD, and the SD within each lead of a record averaged over them (500 Hz:
# 2 ms per sample; a boundary counts within 150 ms)
"$exe" eval delineation --data "$data/ludb/data" --errors "$out/e3.csv" 1 2 3 > "$out/d3.txt" 2>&1 && ok || bad "eval delineation 1 2 3"
want=$(awk -F, '$2!="consensus" && $3=="QRS on" && $4>=0 && $5>=0 && ($5-$4)<=75 && ($4-$5)<=75 {
    e=($5-$4)*2; n++; s+=e; s2+=e*e; g=$1","$2; gn[g]++; gs[g]+=e; gs2[g]+=e*e }
  END { m=s/n; for (g in gn) if (gn[g]>1) { gm=gs[g]/gn[g]; v=(gs2[g]-gn[g]*gm*gm)/(gn[g]-1); if (v<0) v=0; k++; sd+=sqrt(v) }
        printf "%.2f %.2f %.2f", m, sqrt((s2-n*m*m)/(n-1)), sd/k }' "$out/e3.csv")
got=$(awk '$1=="QRS" && $2=="on" {printf "%s %s %s", $8, $9, $10; exit}' "$out/d3.txt")
[ -n "$want" ] && [ "$want" = "$got" ] && ok || bad "QRS on mean / SD / SD in rec: table '$got', from the CSV '$want'"
"$exe" eval delineation --data "$data/ludb/data" --errors /nonexistent/dir/e.csv 1 > "$out/e2.txt" 2>&1; rc=$?
[ "$rc" -eq 1 ] && grep -q "/nonexistent/dir/e.csv" "$out/e2.txt" && ok || bad "unwritable --errors named: rc $rc $(cat "$out/e2.txt")"
rm -rf "$out"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
