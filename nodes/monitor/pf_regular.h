/* pf_regular: "regular activity" of one signal's beats (pf_alarmcheck;
 * docs/nodes/monitor.md, "Alarm verification").
 *
 * The first test of the winning real-time entry of the PhysioNet/CinC 2015
 * challenge (Plesinger et al. 2015) and of the MIT baseline built on it (Li,
 * Johnson & Mark 2017, the challenge organisers' open-source algorithm): a
 * signal showing regular activity over the alarm's window is evidence the
 * alarm is false. A 10 s window is regular when its beats have RR intervals
 * with a standard deviation <= 25 ms, a rate (beats in the window) of 45-135
 * /min, at least 3 intervals, and intervals covering all but 2 s of the window
 * (no long pause at either end). Noise does not produce a rhythm this even, and
 * a run of ectopic beats (any arrhythmia the alarms name) breaks it. */
#ifndef PF_REGULAR_H
#define PF_REGULAR_H

#define PF_REGULAR_WIN_S 10.0

/* 1 when [lo, hi) (samples) is regular by the definition above; bt: nb beats,
 * increasing sample indices (any range; only those in [lo, hi) count). */
int pf_regular_window(const long *bt, long nb, long lo, long hi, double fs);

/* 1 when every 10 s window in [lo, hi), stepped by 1 s and the last one ending
 * at hi, is regular (an interval shorter than 10 s: the one window [lo, hi)).
 * Used to refute an alarm whose onset may lie anywhere in the interval. */
int pf_regular_span(const long *bt, long nb, long lo, long hi, double fs);

#endif
