#!/usr/bin/env python3
"""2-fold check of the method choice on the PhysioNet/CinC 2015 records.

Usage: challenge_folds.py DETECT.txt VERIFY.txt BOTH.txt
(the outputs of `physioflow monitor accuracy --method detect|verify|both`).
Records are split in two halves stratified by alarm type (within a type,
sorted by name, alternately); each half picks the method scoring best on it,
and the pick is scored on the other half, real time and retrospective.
"""
import sys

def load(path):
    rows = {}
    for line in open(path):
        f = line.split()
        if len(f) == 5 and f[2] in ("true", "false"):
            rows[f[0]] = (f[1], f[2] == "true", f[3] == "raised", f[4] == "raised")
    return rows

def score(rows, recs, col):
    tp = fp = tn = fn = 0
    for r in recs:
        _, truth, *dec = rows[r]
        d = dec[col]
        if truth: tp += d; fn += not d
        else: fp += d; tn += not d
    return 100.0 * (tp + tn) / (tp + tn + fp + 5 * fn)

def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    names = ("detect", "verify", "both")
    runs = [load(p) for p in sys.argv[1:]]
    recs = sorted(runs[0])
    for r in runs[1:]:
        if sorted(r) != recs: sys.exit("the three outputs list different records")
    halves = ([], [])
    for t in sorted({runs[0][r][0] for r in recs}):
        for i, r in enumerate(x for x in recs if runs[0][x][0] == t):
            halves[i % 2].append(r)
    for col, variant in ((0, "real time"), (1, "retrospective")):
        for h in (0, 1):
            on = [score(m, halves[h], col) for m in runs]
            pick = max(range(3), key=lambda k: on[k])
            print(f"{variant:13s} half {h + 1} ({len(halves[h])} records): " + ", ".join(f"{n} {s:.2f}" for n, s in zip(names, on))
                  + f" -> picks {names[pick]}, which scores {score(runs[pick], halves[1 - h], col):.2f} on half {2 - h}")

main()
