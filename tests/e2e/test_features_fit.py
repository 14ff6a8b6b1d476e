"""`physioflow features fit` against numpy: run a graph that attaches
features, fit mean/std and a PCA basis, compare with numpy on the same
vectors; bad inputs give clear errors."""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from pftest import check, finish  # noqa: E402

EXE = os.path.abspath(sys.argv[1])


with tempfile.TemporaryDirectory(prefix="pf-fit-") as tmp:
    win = os.path.join(tmp, "w.h5")
    cfg = os.path.join(tmp, "g.cfg")
    with open(cfg, "w") as f:
        f.write('name = "fit";\nnodes = (\n { name = "src"; kind = "synth"; records = 6; duration = 40.0; window = 2500; hr = 75.0; hr_std = 6.0; },\n'
                ' { name = "aug"; kind = "shuffle"; replicas = 2; },\n { name = "sink"; kind = "sink"; path = "%s"; }\n);\n'
                'edges = ( { from = "src"; to = "aug"; }, { from = "aug"; to = "sink"; } );\n' % win)
    stats = os.path.join(tmp, "stats.h5")
    r = subprocess.run([EXE, "features", "fit", cfg, "--out", stats, "--pca", "20"], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0 and "fitted 48 feature vectors of 159 values" in r.stdout, "fit through the graph:\n" + r.stdout + r.stderr[-500:])
    if r.returncode == 0:
        x = h5py.File(win, "r")["features"][:].astype(np.float64)
        s = h5py.File(stats, "r")
        sd = x.std(0)
        sd[sd <= 1e-12] = 1
        check(np.allclose(s["mean"][:], x.mean(0), rtol=1e-6, atol=1e-6), "mean equals numpy's")
        check(np.allclose(s["std"][:], sd, rtol=1e-6, atol=1e-6), "std equals numpy's (population)")
        z = (x - x.mean(0)) / sd
        w, v = np.linalg.eigh(np.cov(z.T))
        w, v = w[::-1][:20], v[:, ::-1][:, :20]
        c = s["pca_components"][:]
        check(c.shape == (20, 159) and np.allclose(c @ c.T, np.eye(20), atol=1e-10), "orthonormal components")
        check(np.allclose(s["pca_variance"][:], w, rtol=1e-8, atol=1e-10), "explained variances equal numpy's eigenvalues")
        sep = w[:-1] - w[1:] > 1e-6 * w[0]  # well-separated eigenvalues: vectors defined up to sign
        check(all(abs(abs(c[i] @ v[:, i]) - 1) < 1e-6 for i in range(19) if sep[i]), "components equal numpy's eigenvectors up to sign")
        check(s.attrs["format"] == b"physioflow.featstats" and s.attrs["n_vectors"] == 48, "attributes")
    # refit from the window file directly, without PCA
    r = subprocess.run([EXE, "features", "fit", win, "--out", stats], capture_output=True, text=True)
    check(r.returncode == 0 and "pca_components" not in h5py.File(stats, "r"), "fit from a window file, no PCA")
    # a file without features, a missing file
    plain = os.path.join(tmp, "plain.h5")
    with h5py.File(plain, "w") as f:
        f["data"] = np.zeros((2, 1, 10), np.float32)
    r = subprocess.run([EXE, "features", "fit", plain, "--out", stats], capture_output=True, text=True)
    check(r.returncode == 1 and "plain.h5: no /features dataset" in r.stderr, "missing /features named: " + r.stderr)
    r = subprocess.run([EXE, "features", "fit", os.path.join(tmp, "nope.h5"), "--out", stats], capture_output=True, text=True)
    check(r.returncode == 1 and "nope.h5: cannot open" in r.stderr, "missing file named: " + r.stderr)

sys.exit(finish())
