/* pf_alarmcheck: verify a bedside monitor's arrhythmia alarm from every signal
 * recorded with it (docs/nodes/monitor.md, "Alarm verification").
 *
 * A bedside monitor has raised an alarm of some type (asystole, brady, tachy,
 * vtach, vfib); the checker looks at each signal on its own -- every ECG lead
 * through its own R-peak detector, every pulsatile signal (PLETH, ABP) through
 * a pulse detector -- decides per signal whether it is good enough to judge
 * and whether it supports or contradicts the alarm's definition over the alarm
 * interval, and combines the verdicts with physiological rules: a pulse cannot
 * come without a heartbeat, so regular pulses refute low-rate claims (asystole,
 * bradycardia, fibrillation) but never high-rate ones (a pulse deficit is real);
 * noise adds detections, so one clean ECG lead showing the claimed low rate is
 * not needed to refute it, but every clean ECG lead must contradict a high-rate
 * claim to refute it. With nothing to judge from, the alarm is raised (a missed
 * true alarm costs far more than a false one).
 *
 * Causal: the caller passes the samples up to the decision time; nothing later.
 */
#ifndef PF_ALARMCHECK_H
#define PF_ALARMCHECK_H

#include <stdint.h>

enum { PF_VERDICT_UNKNOWN, PF_VERDICT_SUPPORTS, PF_VERDICT_CONTRADICTS };

#define PF_ALARMCHECK_MAXCH 16

typedef struct {
    char name[16];
    int pulse;                /* pulsatile signal, not ECG */
    int good;                 /* quality good enough to judge */
    int verdict;              /* PF_VERDICT_* */
    int beats;                /* beats (pulses) in the alarm interval */
    double max_gap_s;         /* longest interval without a beat in the interval */
    double min_rate, max_rate; /* over the definition's run of beats (5 or 17), /min */
    double ksqi;              /* ECG: kurtosis of the 1-40 Hz signal */
    /* vtach only (pf_vtcheck): ECG ventricular beats and runs in the interval, QRS
     * widths (ms) of the history's beats and of the first run; pulse: unchanged
     * through the ECG's runs */
    int vbeats, vruns, steady;
    int regular;              /* vtach, ECG: regular narrow rhythm through the interval (pf_regular) */
    double qrs_native_ms, qrs_run_ms;
    const char *why;          /* why not good, or the deciding fact */
} pf_alarmcheck_ch;

typedef struct {
    int raise;                    /* 1: the alarm stands; 0: suppressed */
    int refuted;                  /* suppressed by conclusive evidence (vtach: a good pulse
                                   * unchanged through the interval, or a good ECG lead in
                                   * regular narrow rhythm, pf_regular), which also overrules
                                   * the streaming monitor's alarm (`--method both`) */
    int nch;
    pf_alarmcheck_ch ch[PF_ALARMCHECK_MAXCH];
} pf_alarmcheck;

/* x: lead-major [n_leads][n] samples at fs; names: comma-separated signal names
 * (PLETH/ABP/ART/PPG pulsatile; RESP, CO2, CVP, PAP ignored; the rest ECG).
 * [w0, n) is the alarm interval; samples before w0 are history (detector
 * learning, reference amplitudes). type: PF_ALARM_ASYSTOLE..PF_ALARM_VFIB. */
int pf_alarmcheck_run(int type, const float *x, int n_leads, const char *names, long n, long w0, double fs, pf_alarmcheck *out);

#endif
