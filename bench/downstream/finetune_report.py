#!/usr/bin/env python3
"""The fine-tuning part of docs/results.md, produced by one command: the fine-tuning
graphs (configs/finetune-beats.cfg: AAMI beat classes, training records of the DS1 split
but 201, which validates; early stopping on its macro-F1) from random initialisation and
from each `--checkpoint NAME=DIR`, with the encoder trained (full fine-tuning) or frozen
(`freeze_encoder`: a probe through the graph), each best checkpoint then scored on the test
patients by configs/finetune-beats-test.cfg (the rows of bench/downstream/report.py's
encoder rows). The table goes between the finetune markers of --results.

usage: finetune_report.py [--physioflow build/cli/physioflow] [--work out] [--results docs/results.md]
                          [--checkpoint NAME=DIR]... [--modes full,frozen] [--steps 120] [--reuse]
--reuse takes an existing out/ft{,z}-NAME-test.json instead of running again."""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import run  # noqa: E402  (prints the command, exits naming it on failure)

BEGIN, END = "<!-- finetune:begin -->", "<!-- finetune:end -->"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser()
    ap.add_argument("--physioflow", default=os.path.join(root, "build/cli/physioflow"))
    ap.add_argument("--work", default=os.path.join(root, "out"))
    ap.add_argument("--results", default=os.path.join(root, "docs/results.md"))
    ap.add_argument("--checkpoint", action="append", default=[], help="NAME=DIR, repeatable")
    ap.add_argument("--modes", default="full,frozen")
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--reuse", action="store_true")
    a = ap.parse_args()
    os.chdir(root)
    inits = [("random", None)] + [tuple(c.split("=", 1)) for c in a.checkpoint]
    rows = []
    for mode in a.modes.split(","):
        pre = "ft" if mode == "full" else "ftz"
        for name, ck in inits:
            tag = f"{pre}-{name}"
            test = os.path.join(a.work, tag + "-test.json")
            secs = None
            if not (a.reuse and os.path.exists(test)):
                sets = ["--set", f'trainer.checkpoint_dir="{a.work}/{tag}"', "--set", f'trainer.metrics="{a.work}/{tag}.csv"',
                        "--set", f'trainer.val_json="{a.work}/{tag}-val.json"', "--set", f"trainer.steps={a.steps}"]
                if ck:
                    sets += ["--set", f'trainer.init_from="{ck}"']
                if mode == "frozen":
                    sets += ["--set", "trainer.freeze_encoder=true"]
                _, secs = run([a.physioflow, "run", "configs/finetune-beats.cfg", "--quiet"] + sets)
                run([a.physioflow, "run", "configs/finetune-beats-test.cfg", "--quiet", "--set", f'trainer.init_from="{a.work}/{tag}/best"',
                     "--set", f'trainer.val_json="{test}"'])
            with open(test) as f:
                j = json.load(f)
            val = json.load(open(os.path.join(a.work, tag + "-val.json")))
            cls = {c["name"]: c for c in j["classes"]}
            rows.append((mode, name, val["macro_f1"], j["accuracy"], j["macro_f1"], j["macro_auroc"],
                         cls.get("S", {}).get("f1"), cls.get("V", {}).get("f1"), j["rows"], secs))
    fmt = lambda v: "-" if v is None or v != v else f"{v:.3f}"  # noqa: E731
    out = [BEGIN, "### Fine-tuning graphs", "",
           f"Produced by `bench/downstream/finetune_report.py` ({time.strftime('%Y-%m-%d')}; {a.steps} steps of 16 windows at most, "
           "early stopping with patience 3 on record 201, the best validation checkpoint scored on the test patients; "
           "`configs/finetune-beats.cfg`, `configs/finetune-beats-test.cfg`).", "",
           "| encoder | start | val macro-F1 (201) | test accuracy | test macro-F1 | test macro AUROC | S F1 | V F1 | test rows |",
           "|---|---|---|---|---|---|---|---|---|"]
    for mode, name, vf1, acc, mf1, auc, sf1, vf1c, n, _ in rows:
        out.append(f"| {'trained' if mode == 'full' else 'frozen'} | {name} | {fmt(vf1)} | {fmt(acc)} | {fmt(mf1)} | {fmt(auc)} | "
                   f"{fmt(sf1)} | {fmt(vf1c)} | {n} |")
    out.append(END)
    text = open(a.results).read()
    block = "\n".join(out)
    if BEGIN in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    open(a.results, "w").write(text)
    print(block)


if __name__ == "__main__":
    main()
