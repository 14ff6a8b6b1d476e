#include "registry.h"

#include <string.h>

extern const pf_kind pf_kind_synth, pf_kind_reader, pf_kind_sink, pf_kind_passthrough, pf_kind_discard, pf_kind_repeat,
    pf_kind_shuffle, pf_kind_filter, pf_kind_rpeak, pf_kind_delineate, pf_kind_wavelet, pf_kind_transformer, pf_kind_trainer, pf_kind_embed,
    pf_kind_live, pf_kind_monitor, pf_kind_dashboard;

const pf_kind *const pf_kinds[] = {
    &pf_kind_synth,       /* io: synthetic ECG source (ECGSYN), the embedded default data */
    &pf_kind_reader,      /* io: real ECG records (WFDB, .mat, HDF5 sets) */
    &pf_kind_sink,        /* io: HDF5 window writer */
    &pf_kind_passthrough, /* flow: forwards windows unchanged */
    &pf_kind_discard,     /* flow: counts, checksums and drops windows */
    &pf_kind_repeat,      /* flow: pattern source for benchmarks */
    &pf_kind_filter,      /* dsp: SOS band-pass / notch / baseline filter, resampling, normalisation */
    &pf_kind_rpeak,       /* dsp: streaming R-peak detector */
    &pf_kind_delineate,   /* dsp: P / QRS / T boundaries of every beat */
    &pf_kind_shuffle,     /* augment: heartbeat shuffling and perturbations */
    &pf_kind_wavelet,     /* model: stage 1, learnable wavelet front-end */
    &pf_kind_transformer, /* model: stage 2, patch tokens, masking, encoder */
    &pf_kind_trainer,     /* model: stage 3, head, loss, optimiser schedule, checkpoints (or all stages fused) */
    &pf_kind_embed,       /* model: embedding export (encoder of a checkpoint -> embedding file) */
    &pf_kind_live,        /* monitor: bedside stream receiver (many beds, one endpoint) */
    &pf_kind_monitor,     /* monitor: per-bed heart rate, rhythm, quality and alarms */
    &pf_kind_dashboard,   /* monitor: live web page of the beds (libmicrohttpd, Server-Sent Events) */
    NULL,
};

const pf_kind *pf_kind_find(const char *name)
{
    for (int i = 0; pf_kinds[i]; i++)
        if (!strcmp(pf_kinds[i]->name, name)) return pf_kinds[i];
    return NULL;
}
