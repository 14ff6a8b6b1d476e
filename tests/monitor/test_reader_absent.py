#!/usr/bin/env python3
"""The reader selects signals by name across records with different signal sets
(missing_lead = "absent"): a CinC 2015 record with PLETH only and one with ABP only give
windows with exactly the leads they have (three, not four with a zero-filled stand-in),
the third being the pulsatile signal each record has (PLETH in normalised units, ABP in mmHg).
Usage: test_reader_absent.py PHYSIOFLOW"""
import os, shutil, subprocess, sys, tempfile
import h5py, numpy as np

phys = sys.argv[1]
data = os.path.join(os.environ.get("PF_SHARED_DATA", ""), "challenge2015")
if not os.path.exists(os.path.join(data, "a103l.hea")):
    print(f"SKIP: {data} not found (PhysioNet/CinC 2015 records in ../shared/data)"); sys.exit(77)
tmp = tempfile.mkdtemp(prefix="pf-absent-")
try:
    cfg = os.path.join(tmp, "g.cfg")
    open(cfg, "w").write(f'''name = "absent";
nodes = (
  {{ name = "reader"; kind = "reader"; root = "{data}"; records = ["a103l", "v131l"]; window = 2500;
    leads = ["II", "V", "PLETH", "ABP"]; missing_lead = "absent"; annotator = ""; }},
  {{ name = "sink"; kind = "sink"; path = "{tmp}/out.h5"; }}
);
edges = ( {{ from = "reader"; to = "sink"; }} );
''')
    r = subprocess.run([phys, "run", cfg], capture_output=True, text=True, timeout=120)
    if r.returncode: print("FAIL: graph:", r.stdout[-1500:], r.stderr[-1500:]); sys.exit(1)
    fails = []
    with h5py.File(f"{tmp}/out.h5") as f:
        d, rec = f["data"][:], f["record"][:]
        ids = [x.decode() if isinstance(x, bytes) else str(x) for x in f["record_ids"][:]]
    # a103l has II, V, PLETH; v131l has II, V, ABP: three leads each, the third the one it has
    if d.shape[1] != 3: fails.append(f"{d.shape[1]} leads per window, expected 3 (the selected ones each record has)")
    for k, name in enumerate(ids):
        x = d[rec == k]
        third = x[:, 2, :]
        print(f"{name}: {x.shape[0]} windows, lead 3 range {np.nanmin(third):.1f}..{np.nanmax(third):.1f}")
        if "v131" in name and not np.nanmedian(third) > 20: fails.append(f"{name}: lead 3 is not ABP (median {np.nanmedian(third):.1f} mmHg)")
        if "a103" in name and not np.nanmedian(third) < 20: fails.append(f"{name}: lead 3 is not PLETH")
    for fl in fails: print("FAIL:", fl)
    print("PASS" if not fails else "FAIL")
    sys.exit(1 if fails else 0)
finally:
    shutil.rmtree(tmp, ignore_errors=True)
