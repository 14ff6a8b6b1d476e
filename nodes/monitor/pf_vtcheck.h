/* pf_vtcheck: the evidence for and against a ventricular tachycardia alarm
 * (pf_alarmcheck; docs/nodes/monitor.md, "Alarm verification").
 *
 * Per ECG lead, a beat is ventricular when its QRS is wide (>= 120 ms,
 * pf_qrswidth) AND shaped unlike the lead's dominant beat before the alarm
 * (correlation < 0.7 with the mean of the history's beats over +-100 ms, as
 * pf_bedmon): the VT criterion "QRS > 120 ms and a change in QRS morphology
 * from the preceding native rhythm" of the annotated VT alarm database (Pelter
 * et al. 2023), the width being the AHA/ACC/HRS one (Surawicz et al. 2009). A run
 * is >= 5 consecutive ventricular beats whose own 4 RR intervals give >= 90/min
 * (the challenge's "> 100/min", widened by the monitor's allowed heart-rate error,
 * AAMI EC13; Clifford et al. 2016 for the definition).
 *
 * Per pulse signal (PLETH, ABP), pf_vtcheck_pulse_steady: the pulse goes on
 * through a run at the pre-alarm pulse rate. A ventricular run either speeds
 * the pulse up (each beat ejecting) or weakens / drops pulses (the short
 * diastole of VT lowers the stroke volume): Aboukhalil et al. 2008 suppress VT
 * alarms from an unchanged ABP, and Plesinger et al. 2015 reject ECG events
 * the pulsatile signals do not follow. An unchanged pulse argues that the
 * "run" on the ECG is artefact. */
#ifndef PF_VTCHECK_H
#define PF_VTCHECK_H

#define PF_VT_MAXRUN 8

typedef struct {
    int nv;                    /* ventricular beats in the alarm interval */
    int nrun;                  /* runs (up to PF_VT_MAXRUN kept) */
    long run_on[PF_VT_MAXRUN], run_off[PF_VT_MAXRUN]; /* first and last beat of each run, samples */
    double native_qrs_ms;      /* median QRS width of the history's beats (NAN: none) */
    double run_qrs_ms;         /* median QRS width of the first run's beats (NAN: no run) */
} pf_vtlead;



/* raw: the lead (finite), filt: its causal 1-40 Hz band-pass with group delay
 * gd samples; bt: nb beats (raw sample indices, increasing); beats before w0
 * are the history (the dominant beat). */
int pf_vtcheck_lead(const float *raw, const float *filt, long n, long w0, double fs, double gd, const long *bt, long nb, pf_vtlead *out);

/* 1 when the pulses pl[0..np) (raw sample indices, data [0, n)) go on unchanged
 * through [on, off] (a run's first and last beat, plus the pulse's arrival delay;
 * up to the data's end when that comes first): no pulse missing (no interval over
 * 1.5 x the median pulse interval before w0: a missing pulse doubles it) and no
 * speed-up (the rate over every 4 intervals, the VT definition's 5 beats, under both
 * the run's 90/min and the pre-alarm pulse rate plus the AAMI EC13 tolerance, +10 %
 * or +5/min: a pulse already fast that stays so has not followed a run). 0 otherwise, or with fewer than 5 history pulses, or when the
 * pulses stopped before the data's end. */
int pf_vtcheck_pulse_steady(const long *pl, long np, long n, long w0, double fs, long on, long off);

#endif
