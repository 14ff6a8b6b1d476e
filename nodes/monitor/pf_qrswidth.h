/* pf_qrswidth: QRS duration of given beats of one ECG lead, for the
 * ventricular-beat rule of pf_alarmcheck (docs/nodes/monitor.md).
 *
 * The lead is band-passed 0.5-40 Hz with zero phase (pf_sos_filtfilt: the
 * complex keeps its width and place) over the samples given -- the caller
 * passes data up to its decision time, nothing later -- and each beat is
 * delineated with the project's wavelet delineator (pf_delin_lead, Martinez et
 * al. 2004, validated on LUDB by `physioflow eval delineation`). A QRS of
 * 120 ms or more is wide: the AHA/ACC/HRS criterion for ventricular conduction
 * (Surawicz et al. 2009, part III) and for ventricular tachycardia. */
#ifndef PF_QRSWIDTH_H
#define PF_QRSWIDTH_H

#define PF_QRS_WIDE_MS 120.0

/* x: one lead, n samples at fs; r: nr R-peak sample indices (increasing).
 * width_ms[i]: QRS duration of beat i in ms, NAN for a beat within 250 ms of
 * either end of x (its complex may be cut). */
int pf_qrswidth_lead(const float *x, long n, double fs, const long *r, long nr, double *width_ms);

#endif
