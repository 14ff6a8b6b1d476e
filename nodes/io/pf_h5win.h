/* pf_h5win: windows and their metadata in an HDF5 file (docs/formats.md,
 * "physioflow.windows" layout). The file is written under NAME.partial and
 * renamed to NAME only when closed complete, so an interrupted run never
 * leaves a file that looks finished. Arrival order is kept; the stream
 * checksum (sum of pf_msg_hash) does not depend on it. */
#ifndef PF_H5WIN_H
#define PF_H5WIN_H

#include "pf_wire.h"

#include <stdint.h>

typedef struct pf_h5win pf_h5win;

typedef struct {
    int compression;      /* gzip level 0-9 for data */
    const char *producer; /* provenance string stored as an attribute */
    const char *units;    /* physical units of the samples ("mV"; "1" after z-scoring), attribute of /data */
} pf_h5win_opts;

pf_h5win *pf_h5win_create(const char *path, const pf_h5win_opts *opts);
/* Append one WINDOW message. A window whose shape or section layout differs
 * from the first one is rejected with PF_EFORMAT (nothing written). */
int pf_h5win_append(pf_h5win *w, const pf_msg *m);
uint64_t pf_h5win_count(const pf_h5win *w);
/* Write everything appended so far (metadata, attributes n_windows and
 * checksum) and flush the file: until the next append, the file on disk is a
 * readable, incomplete file with every window appended (even after kill -9). */
int pf_h5win_flush(pf_h5win *w);
/* Windows appended since the last flush. */
uint64_t pf_h5win_unflushed(const pf_h5win *w);
uint64_t pf_h5win_checksum(const pf_h5win *w);
/* Close. complete = 1 marks the file complete and renames it into place;
 * complete = 0 leaves NAME.partial with complete = 0. */
int pf_h5win_close(pf_h5win *w, int complete);
/* Path the file has (or will have) once complete. */
const char *pf_h5win_path(const pf_h5win *w);

#endif
