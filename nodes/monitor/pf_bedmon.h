/* pf_bedmon: one bed's arrhythmia monitor, fed chunk by chunk as samples
 * arrive (docs/nodes/monitor.md has the rules and their sources).
 *
 * ECG leads go through the project's causal SOS filter (pf_sos, 1-40 Hz
 * Butterworth) and the streaming R-peak detector (pf_rpeak) on up to three
 * detection leads; pulsatile leads (PLETH, ABP, ART) through pf_rpeak tuned
 * for pulses. From the beats it keeps heart rate, RR irregularity, beat
 * morphology (template correlation + QRS width: ventricular or not), signal
 * quality (flat / lead-off, kurtosis), and the VF filter leakage (Kuo &
 * Dillman 1978) on 4 s windows. Alarms follow the PhysioNet/CinC 2015
 * definitions; each onset / clearance is an event with the sample that
 * triggered it. Everything is causal: a bed fed in any chunking gives the
 * same events.
 */
#ifndef PF_BEDMON_H
#define PF_BEDMON_H

#include <stddef.h>
#include <stdint.h>

enum {
    PF_ALARM_ASYSTOLE = 1, PF_ALARM_BRADY, PF_ALARM_TACHY, PF_ALARM_VTACH, PF_ALARM_VFIB,
    PF_ALARM_IRREGULAR, PF_ALARM_LEAD_OFF, PF_ALARM_POOR_SIGNAL, PF_ALARM_N
};
const char *pf_alarm_name(int type); /* "asystole", ... */
int pf_alarm_parse(const char *name);  /* 0 if unknown */

/* Event row on the wire (PF_SEC_MON_EVENTS, i64 [n, PF_EV_N]). */
enum { PF_EV_BED, PF_EV_TYPE, PF_EV_ONSET /* 1 onset, 0 clearance */, PF_EV_SAMPLE /* trigger, bed timeline */,
       PF_EV_LATENCY_US /* trigger sample's acquisition -> emission */, PF_EV_VALUE /* e.g. HR x 10 */,
       PF_EV_EMIT_US /* wall clock at emission */, PF_EV_PIPE_US /* arrival at the station -> emission */, PF_EV_N };

/* State row (PF_SEC_MON_STATE, f64 [PF_ST_N]). NaN = not known. */
enum { PF_ST_HR, PF_ST_PULSE_RATE, PF_ST_IRREG, PF_ST_SQI, PF_ST_ALARMS /* bit (1 << type) */, PF_ST_BEATS,
       PF_ST_VBEATS, PF_ST_LEAKAGE, PF_ST_LOOKAHEAD_S, PF_ST_OUT_DROPS /* set by the monitor node */,
       PF_ST_RESTARTS /* detector restarts (start, gaps) */, PF_ST_REJECTED /* detections too small to be a QRS */, PF_ST_N = 16 };

typedef struct {
    int type, onset;
    int64_t sample;  /* trigger sample on the caller's timeline */
    double value;
} pf_bedmon_event;

typedef struct {
    double fs;
    int n_leads;
    const char *lead_names; /* comma-separated, or NULL: every lead is ECG */
    int use_pulse;          /* use PLETH/ABP to confirm ECG alarms (default 1) */
    int max_detect_leads;   /* ECG leads given to the detector (default 3) */
    double asystole_s;      /* 4 */
    double brady_bpm; int brady_beats;   /* 40, 5 */
    double tachy_bpm; int tachy_beats;   /* 140, 17 */
    double vt_bpm; int vt_beats;         /* 100, 5 */
    double vf_s;            /* 4 */
    double vf_leakage;      /* VF filter leakage below this is fibrillatory (0.625, Kuo & Dillman) */
    double poor_s;          /* poor signal this long raises the alarm (10) */
} pf_bedmon_cfg;

typedef struct pf_bedmon pf_bedmon;

void pf_bedmon_cfg_default(pf_bedmon_cfg *c, double fs, int n_leads);
pf_bedmon *pf_bedmon_create(const pf_bedmon_cfg *c);
void pf_bedmon_destroy(pf_bedmon *m);

/* Feed n samples per lead, x: lead-major [n_leads][n], starting at sample
 * `start` of the caller's timeline. A start later than the end of the last
 * chunk is a gap: the filters and the detector restart after it (nothing is
 * filled in) and no alarm condition spans it. lead_off: device bits.
 * Events go to ev (capacity max, *nev filled); R-peaks found in this call to
 * peaks (capacity pmax, *np filled), absolute. */
int pf_bedmon_process(pf_bedmon *m, const float *x, int n, int64_t start, uint32_t lead_off,
                      pf_bedmon_event *ev, int max, int *nev, int64_t *peaks, int pmax, int *np);
/* The state row (PF_ST_*). */
void pf_bedmon_state(const pf_bedmon *m, double *st);
/* Alarms active now, bit (1 << type). */
unsigned pf_bedmon_active(const pf_bedmon *m);
/* Detector look-ahead in seconds (what the latency figures are measured beyond). */
double pf_bedmon_lookahead(const pf_bedmon *m);
/* Bytes of state held for this bed. */
size_t pf_bedmon_bytes(const pf_bedmon *m);

#endif
