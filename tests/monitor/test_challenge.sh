#!/bin/sh
# `physioflow monitor accuracy` on the PhysioNet/CinC 2015 alarm records: every record
# scored, the per-type table and the overall scores printed; bad input named.
exe="$1"; data="${PF_SHARED_DATA:-}/challenge2015"
if [ ! -f "$data/ALARMS" ]; then echo "SKIP: $data/ALARMS not found (PhysioNet/CinC 2015 records in ../shared/data)"; exit 77; fi
out=$(mktemp -d); fail=0
bad() { echo "FAIL: $*"; fail=1; }
"$exe" monitor accuracy --data "$data" > "$out/a.txt" 2>&1 || bad "exit code: $(tail -3 "$out/a.txt")"
n=$(awk '$3=="true"||$3=="false"' "$out/a.txt" | wc -l)
[ "$n" -eq "$(wc -l < "$data/ALARMS")" ] || bad "$n records scored, ALARMS lists $(wc -l < "$data/ALARMS")"
for t in asystole brady tachy vtach vfib overall; do grep -q "^$t " "$out/a.txt" || bad "no '$t' row"; done
# a record's alarm counted once per variant: TP+FP+TN+FN over the types equals the records
sum=$(awk '$1=="overall"{print $3+$4+$5+$6}' "$out/a.txt")
[ "$sum" = "$n" ] || bad "overall counts add up to $sum, expected $n"
# bad input: a missing record is named
mkdir -p "$out/d"; printf 'zz999,Asystole,1\n' > "$out/d/ALARMS"
"$exe" monitor accuracy --data "$out/d" > "$out/e.txt" 2>&1 && bad "missing record accepted"
grep -q "zz999" "$out/e.txt" || bad "missing record not named: $(cat "$out/e.txt")"
printf 'a103l,Asystole,maybe\n' > "$out/d/ALARMS"
"$exe" monitor accuracy --data "$out/d" > "$out/e.txt" 2>&1 && bad "malformed ALARMS line accepted"
grep -q "ALARMS:1" "$out/e.txt" || bad "malformed line not located: $(cat "$out/e.txt")"
grep "^overall" "$out/a.txt"
rm -rf "$out"
[ $fail -eq 0 ] && echo PASS
exit $fail
