#!/usr/bin/python3
"""Write PhysioWave-layout HDF5 test files with h5py (argv[1] = output folder).

Values follow a formula the C test recomputes: data[n, c, t] = n * 1000 + c * 100 + t * 0.5
(exact in float32 for these sizes). Also writes deliberately wrong files."""
import os, sys
import numpy as np
import h5py

out = sys.argv[1]
def formula(n, c, t):
    i = np.arange(n)[:, None, None]; j = np.arange(c)[None, :, None]; k = np.arange(t)[None, None, :]
    return (i * 1000 + j * 100 + k * 0.5).astype(np.float32)

with h5py.File(os.path.join(out, 'single.h5'), 'w') as f:
    f.create_dataset('data', data=formula(7, 3, 50))
    f.create_dataset('label', data=np.arange(7, dtype=np.int64) * 3 - 4)
    f.attrs['fs'] = 250.0
    f['data'].attrs['leads'] = ['I', 'II', 'V1']

k = np.array([[1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1], [1, 1, 1, 1], [0, 0, 0, 0]])
with h5py.File(os.path.join(out, 'multi_f32.h5'), 'w') as f:
    f.create_dataset('input', data=formula(5, 2, 40))
    f.create_dataset('label', data=k.astype(np.float32))
with h5py.File(os.path.join(out, 'multi_i8.h5'), 'w') as f:
    f.create_dataset('input', data=formula(5, 2, 40))
    f.create_dataset('label', data=k.astype(np.int8))

# chunked, compressed, larger than one read: the C side streams it in slices
big = formula(600, 12, 500)
with h5py.File(os.path.join(out, 'big.h5'), 'w') as f:
    f.create_dataset('data', data=big, chunks=(8, 12, 500), compression='gzip', compression_opts=1)
    f.create_dataset('label', data=(np.arange(600) % 5).astype(np.int64))
print('%.1f' % float(big.astype(np.float64).sum()))

def bad(name, **ds):
    with h5py.File(os.path.join(out, name), 'w') as f:
        for key, v in ds.items():
            f.create_dataset(key, data=v)
bad('rank2.h5', data=np.zeros((4, 10), np.float32))
bad('int16.h5', data=np.zeros((4, 2, 10), np.int16))
bad('nolabelmatch.h5', data=np.zeros((4, 2, 10), np.float32), label=np.zeros(3, np.int64))
bad('strlabel.h5', data=np.zeros((4, 2, 10), np.float32), label=np.array([b'a', b'b', b'c', b'd']))
bad('nodata.h5', signals=np.zeros((4, 2, 10), np.float32))
nan = formula(3, 2, 10); nan[2, 1, 7] = np.nan
bad('nan.h5', data=nan)
inf = formula(3, 2, 10); inf[1, 0, 3] = -np.inf
bad('inf.h5', data=inf)
open(os.path.join(out, 'text.h5'), 'w').write('not hdf5\n')
