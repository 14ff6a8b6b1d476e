/* pf_bedmon: one bed's arrhythmia monitor (pf_bedmon.h, docs/nodes/monitor.md). */
#include "pf_bedmon.h"

#include "pf_error.h"
#include "pf_iirdes.h"
#include "pf_rpeak.h"
#include "pf_sos.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <strings.h>

#define MAXDET 3
#define MAXPUL 2
#define HIST 64      /* beats remembered (power of two) */
#define RING_S 6.0   /* seconds of filtered detection signal kept (VF window, late beats) */
#define KBLK 5       /* kurtosis over the last 5 one-second blocks */

static const char *const alarm_names[PF_ALARM_N] = {"", "asystole", "brady", "tachy", "vtach", "vfib", "irregular", "lead_off", "poor_signal"};
const char *pf_alarm_name(int t) { return t > 0 && t < PF_ALARM_N ? alarm_names[t] : "?"; }
int pf_alarm_parse(const char *s)
{
    for (int t = 1; t < PF_ALARM_N; t++) if (!strcasecmp(s, alarm_names[t])) return t;
    return 0;
}

struct pf_bedmon {
    pf_bedmon_cfg c;
    int ndet, det[MAXDET], npul, pul[MAXPUL];
    pf_iirdes bp;
    pf_sos *flt;
    pf_rpeak *rp, *pp[MAXPUL];
    double gd;                      /* filter group delay, samples */
    long la;                        /* detector look-ahead, samples */
    int64_t origin, pos;            /* detector run started at origin; next sample expected at pos */
    int started, fed;
    float *ring, *vfbuf; long ring_n; size_t ring_bytes;       /* filtered detection leads [ring_n][ndet], timeline t at (t - origin) % ring_n */
    float *ibuf, *fbuf, *pbuf; long cap;
    long *pk; long pkcap;
    /* beats since the last restart */
    int64_t bt[HIST]; unsigned char bv[HIST]; long nb;
    int64_t last_beat;              /* last QRS, or the point since which the signal was observed */
    float tmpl[MAXDET][128]; int tw; long ntmpl; double twidth, tamp; long rejected;
    int vrun, nonv_run;
    /* pulses */
    int64_t pt[HIST]; long np; int64_t pulse_seen_to;
    /* one-second blocks */
    long blk, blk_fill;
    double bmin[MAXDET + MAXPUL], bmax[MAXDET + MAXPUL], s2[MAXDET], s4[MAXDET];
    long bnan[MAXDET + MAXPUL];
    double k2[MAXDET][KBLK], k4[MAXDET][KBLK]; long kn[MAXDET][KBLK]; long nblk;
    int lead_bad[MAXDET];           /* flat / off in the last block */
    int pulse_flat[MAXPUL];
    int64_t off_since, poor_since;
    int vf_pos, vf_neg;
    int64_t vf_until;
    unsigned active;
    double hr, irreg, sqi, leak, prate;
    long beats_total, vbeats_total, restarts;
    /* events of the current call */
    pf_bedmon_event *ev; int evmax, nev;
    int64_t *outpk; int outmax, nout;
};

void pf_bedmon_cfg_default(pf_bedmon_cfg *c, double fs, int n_leads)
{
    memset(c, 0, sizeof *c);
    c->fs = fs;
    c->n_leads = n_leads;
    c->use_pulse = 1;
    c->max_detect_leads = 3;
    c->asystole_s = 4;
    c->brady_bpm = 40; c->brady_beats = 5;
    c->tachy_bpm = 140; c->tachy_beats = 17;
    c->vt_bpm = 100; c->vt_beats = 5;
    c->vf_s = 4;
    c->vf_leakage = 0.625;
    c->poor_s = 10;
}

/* Lead roles by name. */
static int is_pulse(const char *s) { return !strcasecmp(s, "PLETH") || !strcasecmp(s, "ABP") || !strcasecmp(s, "ART") || !strcasecmp(s, "PPG") || !strcasecmp(s, "SpO2"); }
static int is_other(const char *s) { return !strcasecmp(s, "RESP") || !strcasecmp(s, "CO2") || !strcasecmp(s, "CVP") || !strcasecmp(s, "PAP"); }
static int ecg_rank(const char *s)
{
    /* bedside practice: II first, then a precordial lead (V, V1, V5), then the rest */
    static const char *pref[] = {"II", "V", "V1", "V5", "MCL1", "I", "III", "aVF", "V2", "V3", "V4", "V6", "aVL", "aVR", NULL};
    for (int i = 0; pref[i]; i++) if (!strcasecmp(s, pref[i])) return i;
    return 50;
}

static void emit(pf_bedmon *m, int type, int onset, int64_t sample, double value)
{
    if (onset) m->active |= 1u << type; else m->active &= ~(1u << type);
    if (m->nev < m->evmax) m->ev[m->nev++] = (pf_bedmon_event){type, onset, sample, value};
}

static int make_detectors(pf_bedmon *m)
{
    pf_rpeak_cfg rc;
    pf_rpeak_cfg_default(&rc, m->c.fs, m->ndet);
    m->rp = pf_rpeak_create(&rc);
    if (!m->rp) return PF_ENOMEM;
    m->la = (long)ceil((rc.peak_ms + rc.refractory_ms + rc.mwi_ms) * 1e-3 * m->c.fs) + 1;
    for (int k = 0; k < m->npul; k++) {
        pf_rpeak_cfg pc;
        pf_rpeak_cfg_default(&pc, m->c.fs, 1);
        /* pulses: slower upstroke, longer refractory (<= 200 pulses/min), no T waves */
        pc.f_lo = 0.5; pc.f_hi = 6; pc.mwi_ms = 150; pc.peak_ms = 250; pc.refractory_ms = 300; pc.twave_ms = 0;
        m->pp[k] = pf_rpeak_create(&pc);
        if (!m->pp[k]) return PF_ENOMEM;
    }
    return PF_OK;
}

pf_bedmon *pf_bedmon_create(const pf_bedmon_cfg *c)
{
    if (!(c->fs >= 100 && c->fs <= 10000) || c->n_leads < 1 || c->n_leads > 64) {
        pf_err(PF_EINVAL, "monitor: sample rate %g Hz (100..10000) or %d leads (1..64) not supported", c->fs, c->n_leads);
        return NULL;
    }
    pf_bedmon *m = calloc(1, sizeof *m);
    if (!m) { pf_err(PF_ENOMEM, "monitor: out of memory"); return NULL; }
    m->c = *c;
    m->c.lead_names = NULL;
    /* Roles: rank the ECG leads, keep the pulsatile ones. */
    int rank[64], cand[64], nc = 0;
    const char *p = c->lead_names;
    for (int i = 0; i < c->n_leads; i++) {
        char name[32] = "";
        if (p) {
            size_t k = 0;
            while (*p && *p != ',') { if (k < sizeof name - 1 && !isspace((unsigned char)*p)) name[k++] = *p; p++; }
            name[k] = 0;
            if (*p == ',') p++;
        }
        if (is_pulse(name)) { if (m->npul < MAXPUL && c->use_pulse) m->pul[m->npul++] = i; continue; }
        if (is_other(name)) continue;
        rank[nc] = ecg_rank(name);
        cand[nc++] = i;
    }
    int want = c->max_detect_leads < 1 ? 1 : c->max_detect_leads > MAXDET ? MAXDET : c->max_detect_leads;
    while (m->ndet < want && nc) {
        int b = 0;
        for (int i = 1; i < nc; i++) if (rank[i] < rank[b]) b = i;
        m->det[m->ndet++] = cand[b];
        rank[b] = rank[--nc]; cand[b] = cand[nc];
    }
    if (!m->ndet) { pf_err(PF_EINVAL, "monitor: no ECG lead among '%s'", c->lead_names ? c->lead_names : ""); free(m); return NULL; }
    double hi = c->fs * 0.45 < 40 ? c->fs * 0.45 : 40;
    if (pf_iirdes_butter(&m->bp, PF_IIRDES_BANDPASS, 2, 1.0, hi, c->fs)) { free(m); return NULL; }
    m->flt = pf_sos_create(&m->bp, m->ndet, PF_SOS_ENGINE_F64);
    m->gd = pf_sos_group_delay(m->flt);
    m->ring_n = (long)(RING_S * c->fs);
    /* ring and VF window in one populated mapping, as pf_rpeak's history: a station takes
     * thousands of beds at once, and faulting their pages in one by one costs ~20x more */
    size_t rb = sizeof(float) * (size_t)m->ring_n * m->ndet;
    m->ring_bytes = rb + sizeof(float) * (size_t)(c->vf_s * c->fs + 2);
    void *mp = c->vf_s > 0 && c->vf_s < RING_S - 1 ? mmap(NULL, m->ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0) : MAP_FAILED;
    if (mp != MAP_FAILED) { m->ring = mp; m->vfbuf = (float *)((char *)mp + rb); }
    m->tw = (int)(0.1 * c->fs); /* +-100 ms template */
    if (m->tw > 63) m->tw = 63;
    if (!m->flt || !m->ring || !m->vfbuf || !(c->vf_s > 0 && c->vf_s < RING_S - 1) || make_detectors(m)) { pf_bedmon_destroy(m); pf_err(PF_ENOMEM, "monitor: out of memory"); return NULL; }
    m->hr = m->irreg = m->leak = m->prate = NAN;
    m->sqi = 1;
    return m;
}

void pf_bedmon_destroy(pf_bedmon *m)
{
    if (!m) return;
    pf_sos_destroy(m->flt);
    pf_rpeak_destroy(m->rp);
    for (int k = 0; k < m->npul; k++) pf_rpeak_destroy(m->pp[k]);
    if (m->ring) munmap(m->ring, m->ring_bytes);
    free(m->ibuf); free(m->fbuf); free(m->pbuf); free(m->pk);
    free(m);
}

double pf_bedmon_lookahead(const pf_bedmon *m) { return (double)m->la / m->c.fs; }
unsigned pf_bedmon_active(const pf_bedmon *m) { return m->active; }

size_t pf_bedmon_bytes(const pf_bedmon *m)
{
    size_t det = pf_rpeak_bytes(m->rp);
    for (int k = 0; k < m->npul; k++) det += pf_rpeak_bytes(m->pp[k]);
    return sizeof *m + m->ring_bytes + (size_t)m->cap * (m->ndet * 2 + 1) * sizeof(float) + det;
}

void pf_bedmon_state(const pf_bedmon *m, double *st)
{
    for (int i = 0; i < PF_ST_N; i++) st[i] = NAN;
    st[PF_ST_HR] = m->active & 1u << PF_ALARM_ASYSTOLE ? 0 : m->hr; /* no beats: the rate is zero, not the last one */
    st[PF_ST_PULSE_RATE] = m->prate;
    st[PF_ST_IRREG] = m->irreg;
    st[PF_ST_SQI] = m->sqi;
    st[PF_ST_ALARMS] = (double)m->active;
    st[PF_ST_BEATS] = (double)m->beats_total;
    st[PF_ST_VBEATS] = (double)m->vbeats_total;
    st[PF_ST_LEAKAGE] = m->leak;
    st[PF_ST_LOOKAHEAD_S] = pf_bedmon_lookahead(m);
    st[PF_ST_RESTARTS] = (double)m->restarts;
    st[PF_ST_REJECTED] = (double)m->rejected;
}

/* Restart after a gap (or at the first chunk): no alarm condition spans missing data. */
static int restart(pf_bedmon *m, int64_t at)
{
    m->restarts++;
    if (m->fed) { /* fresh detectors (just created) need no new ones */
        pf_rpeak_destroy(m->rp);
        for (int k = 0; k < m->npul; k++) pf_rpeak_destroy(m->pp[k]);
        m->rp = NULL;
        memset(m->pp, 0, sizeof m->pp);
        if (make_detectors(m)) return pf_err(PF_ENOMEM, "monitor: out of memory");
        pf_sos_reset(m->flt);
        m->fed = 0;
    }
    m->origin = m->pos = at;
    m->last_beat = at;
    m->pulse_seen_to = at;
    m->nb = m->np = 0;
    m->vrun = m->nonv_run = 0;
    m->blk_fill = 0;
    m->nblk = 0;
    m->vf_pos = m->vf_neg = 0;
    m->off_since = m->poor_since = -1;
    m->hr = m->irreg = m->leak = m->prate = NAN;
    for (int l = 0; l < MAXDET + MAXPUL; l++) { m->bmin[l] = INFINITY; m->bmax[l] = -INFINITY; m->bnan[l] = 0; }
    for (int l = 0; l < MAXDET; l++) m->s2[l] = m->s4[l] = 0;
    /* alarms whose evidence stopped at the gap are cleared at its start */
    for (int t = PF_ALARM_ASYSTOLE; t <= PF_ALARM_IRREGULAR; t++)
        if (m->active & 1u << t) emit(m, t, 0, at, NAN);
    return PF_OK;
}

static float ring_at(const pf_bedmon *m, int64_t t, int l) { return m->ring[(size_t)((t - m->origin) % m->ring_n) * m->ndet + l]; }
static int ring_has(const pf_bedmon *m, int64_t a, int64_t b) { return a >= m->origin && b < m->pos && a > m->pos - m->ring_n; }

static int count_pulses(const pf_bedmon *m, int64_t a, int64_t b, double *cv)
{
    int n = 0;
    double s = 0, s2 = 0;
    int64_t prev = -1;
    for (long i = m->np - 1; i >= 0 && i >= m->np - HIST; i--) {
        int64_t t = m->pt[i % HIST];
        if (t < a) break;
        if (t > b) continue;
        if (prev >= 0) { double d = (double)(prev - t); s += d; s2 += d * d; }
        prev = t;
        n++;
    }
    if (cv) *cv = n >= 3 ? sqrt(fmax(0, s2 / (n - 1) - (s / (n - 1)) * (s / (n - 1)))) / (s / (n - 1)) : NAN;
    return n;
}

/* Pulses confirm a perfusing rhythm when the pulsatile lead is live and beats regularly. */
static int pulses_confirm(const pf_bedmon *m, int64_t a, int64_t b, double min_bpm)
{
    if (!m->npul || m->pulse_seen_to < b) return 0;
    for (int k = 0; k < m->npul; k++) if (m->pulse_flat[k]) return 0;
    double cv;
    int n = count_pulses(m, a, b, &cv);
    double secs = (double)(b - a) / m->c.fs;
    return n >= 2 && (double)(n - 1) / secs * 60.0 >= min_bpm && !(cv > 0.25);
}

/* Rate over the last k beats from the median of their k-1 RR intervals: one missed or
 * one extra detection does not swing it (a mean would halve or double one interval). */
static double median_rate(const pf_bedmon *m, int k)
{
    double rr[32];
    int n = k - 1 < 32 ? k - 1 : 32;
    for (int i = 0; i < n; i++) rr[i] = (double)(m->bt[(m->nb - 1 - i) % HIST] - m->bt[(m->nb - 2 - i) % HIST]);
    for (int i = 1; i < n; i++) for (int j = i; j > 0 && rr[j - 1] > rr[j]; j--) { double t = rr[j]; rr[j] = rr[j - 1]; rr[j - 1] = t; }
    double med = n % 2 ? rr[n / 2] : 0.5 * (rr[n / 2 - 1] + rr[n / 2]);
    return 60.0 * m->c.fs / med;
}

/* Returns 0 when the detection is too small to be a QRS (then it is not counted). */
static int on_beat(pf_bedmon *m, int64_t r)
{
    const double fs = m->c.fs;
    /* morphology: correlation with the running template and effective QRS width */
    int isv = 0;
    int64_t c0 = r + (int64_t)lround(m->gd);
    int hw = (int)(0.15 * fs), tw = m->tw;
    if (ring_has(m, c0 - hw, c0 + hw)) {
        double width = 0, corr = 0, wsum = 0;
        float beat[MAXDET][128];
        for (int l = 0; l < m->ndet; l++) {
            double sa = 0, mx = 1e-9;
            for (int k = -hw; k <= hw; k++) { double v = fabs(ring_at(m, c0 + k, l)); sa += v; if (v > mx) mx = v; }
            width += sa / mx / fs;
            for (int k = -tw; k <= tw; k++) beat[l][k + tw] = ring_at(m, c0 + k, l);
            if (m->ntmpl >= 5) {
                double xy = 0, xx = 0, yy = 0, mx2 = 0, my = 0;
                for (int k = 0; k <= 2 * tw; k++) { mx2 += beat[l][k]; my += m->tmpl[l][k]; }
                mx2 /= 2 * tw + 1; my /= 2 * tw + 1;
                for (int k = 0; k <= 2 * tw; k++) {
                    double a = beat[l][k] - mx2, b = m->tmpl[l][k] - my;
                    xy += a * b; xx += a * a; yy += b * b;
                }
                double w = sqrt(yy);
                corr += w * (xy / sqrt(xx * yy + 1e-20));
                wsum += w;
            }
        }
        width /= m->ndet;
        /* amplitude gate: bedside monitors ignore complexes under ~0.15 mV (AAMI EC13); here
         * 0.08 mV after the 1-40 Hz filter, or under 0.3 x the running QRS amplitude: the
         * detector re-learns on noise during a long pause, and noise is not a beat */
        double amp = 0;
        for (int l = 0; l < m->ndet; l++)
            for (int k = -tw; k <= tw; k++) amp = fmax(amp, fabs(ring_at(m, c0 + k, l)));
        if (amp < 0.08 || (m->ntmpl >= 5 && amp < 0.3 * m->tamp)) {
            m->rejected++;
            m->tamp *= 0.85; /* a lasting drop in amplitude (lead change) is accepted after a few beats */
            return 0;
        }
        m->tamp = m->ntmpl < 5 ? fmax(m->tamp, amp) : 0.9 * m->tamp + 0.1 * amp;
        if (m->ntmpl < 5) {
            /* the first beats after a (re)start make the template */
            double a = 1.0 / (double)(m->ntmpl + 1);
            for (int l = 0; l < m->ndet; l++)
                for (int k = 0; k <= 2 * tw; k++) m->tmpl[l][k] = (float)((1 - a) * m->tmpl[l][k] + a * beat[l][k]);
            m->twidth = (1 - a) * m->twidth + a * width;
            m->ntmpl++;
        } else {
            corr = wsum > 0 ? corr / wsum : 1;
            /* ventricular: a different shape and wider than the dominant beat */
            isv = (corr < 0.7 && width > 1.25 * m->twidth) || (corr < 0.5 && width > 1.1 * m->twidth);
            if (!isv && corr > 0.85) {
                for (int l = 0; l < m->ndet; l++)
                    for (int k = 0; k <= 2 * tw; k++) m->tmpl[l][k] = 0.9f * m->tmpl[l][k] + 0.1f * beat[l][k];
                m->twidth = 0.9 * m->twidth + 0.1 * width;
            }
        }
    }
    m->bt[m->nb % HIST] = r;
    m->bv[m->nb % HIST] = (unsigned char)isv;
    m->nb++;
    m->beats_total++;
    m->vbeats_total += isv;
    if (m->active & 1u << PF_ALARM_ASYSTOLE) emit(m, PF_ALARM_ASYSTOLE, 0, r, NAN);
    m->last_beat = r;
#define BT(i) (m->bt[(m->nb - 1 - (i)) % HIST]) /* i-th most recent beat */
    /* heart rate: 60 / mean of the last (up to) 8 RR intervals */
    long nrr = m->nb - 1 < 8 ? m->nb - 1 : 8;
    if (nrr >= 1) m->hr = 60.0 * fs * (double)nrr / (double)(BT(0) - BT(nrr));
    /* extreme bradycardia: the last brady_beats beats below brady_bpm */
    int k = m->c.brady_beats;
    if (m->nb >= k) {
        double rate = median_rate(m, k);
        int on = m->active & 1u << PF_ALARM_BRADY, pause = 0;
        /* a pause that already raised asystole is not also counted as bradycardia */
        for (int i = 0; i < k - 1; i++) pause |= (double)(BT(i) - BT(i + 1)) >= m->c.asystole_s * fs;
        pause |= BT(k - 1) < m->vf_until;
        if (!on && !pause && rate < m->c.brady_bpm && !pulses_confirm(m, BT(k - 1), r, m->c.brady_bpm + 5))
            emit(m, PF_ALARM_BRADY, 1, r, rate);
        else if (on && rate >= m->c.brady_bpm + 5)
            emit(m, PF_ALARM_BRADY, 0, r, rate);
    }
    k = m->c.tachy_beats;
    if (m->nb >= k) {
        double rate = median_rate(m, k);
        int on = m->active & 1u << PF_ALARM_TACHY;
        if (!on && rate > m->c.tachy_bpm) emit(m, PF_ALARM_TACHY, 1, r, rate);
        else if (on && rate <= m->c.tachy_bpm - 5) emit(m, PF_ALARM_TACHY, 0, r, rate);
    }
    /* ventricular tachycardia: vt_beats consecutive ventricular beats faster than vt_bpm */
    if (isv) { m->vrun++; m->nonv_run = 0; } else { m->vrun = 0; m->nonv_run++; }
    k = m->c.vt_beats;
    if (m->vrun >= k && !(m->active & 1u << PF_ALARM_VTACH)) {
        /* no pulse check: a 5-beat run lasts 1.5-3 s, too short for pulses to prove perfusion */
        double rate = median_rate(m, k);
        if (rate > m->c.vt_bpm) emit(m, PF_ALARM_VTACH, 1, r, rate);
    } else if ((m->active & 1u << PF_ALARM_VTACH) && m->nonv_run >= 2) {
        emit(m, PF_ALARM_VTACH, 0, r, NAN);
    }
    /* RR irregularity (atrial fibrillation): normalised RMSSD over the last 32 RR
     * intervals not adjacent to a ventricular beat */
    if (m->nb >= 34) {
        double sd = 0, mean = 0;
        int cnt = 0, big = 0;
        for (int i = 0; i < 32; i++) {
            if (m->bv[(m->nb - 1 - i) % HIST] || m->bv[(m->nb - 2 - i) % HIST] || m->bv[(m->nb - 3 - i) % HIST]) continue;
            double rr1 = (double)(BT(i) - BT(i + 1)), rr2 = (double)(BT(i + 1) - BT(i + 2));
            sd += (rr1 - rr2) * (rr1 - rr2);
            mean += rr1;
            big += fabs(rr1 - rr2) > 0.05 * fs;
            cnt++;
        }
        if (cnt >= 16) {
            mean /= cnt;
            m->irreg = sqrt(sd / cnt) / mean;
            double pnn50 = (double)big / cnt;
            int on = m->active & 1u << PF_ALARM_IRREGULAR;
            if (!on && m->irreg > 0.12 && pnn50 > 0.5) emit(m, PF_ALARM_IRREGULAR, 1, r, m->irreg * 1000);
            else if (on && (m->irreg < 0.08 || pnn50 < 0.3)) emit(m, PF_ALARM_IRREGULAR, 0, r, m->irreg * 1000);
        }
    }
#undef BT
    return 1;
}

/* Regular QRS complexes in [a, b): an organised rhythm (e.g. VT), not fibrillation. */
static int organised(const pf_bedmon *m, int64_t a, int64_t b)
{
    double s = 0, s2 = 0;
    int n = 0;
    for (long i = m->nb - 1; i >= 1 && i >= m->nb - HIST + 1; i--) {
        int64_t t = m->bt[i % HIST], p = m->bt[(i - 1) % HIST];
        if (t >= b) continue;
        if (p < a) break;
        double d = (double)(t - p);
        s += d; s2 += d * d; n++;
    }
    if (n < 3) return 0;
    double mean = s / n, sd = sqrt(fmax(0, s2 / n - mean * mean));
    return sd / mean < 0.15;
}

/* VF filter leakage (Kuo & Dillman 1978) of the last vf_s seconds of lead l. */
static double vf_leakage(pf_bedmon *m, int l, int64_t end, double *freq, double *p2p)
{
    long n = (long)(m->c.vf_s * m->c.fs);
    /* the window, unwrapped from the ring once (contiguous loops below) */
    float *w = m->vfbuf;
    long r0 = (long)((end - n - m->origin) % m->ring_n);
    for (long i = 0, r = r0; i < n; i++, r = r + 1 == m->ring_n ? 0 : r + 1) w[i] = m->ring[(size_t)r * m->ndet + l];
    double sa = 0, sd = 0, mn = w[0], mx = w[0];
    for (long i = 1; i < n; i++) {
        double x = w[i];
        sa += fabs(x); sd += fabs(x - w[i - 1]);
        mn = x < mn ? x : mn;
        mx = x > mx ? x : mx;
    }
    *p2p = mx - mn;
    if (sd <= 0) { *freq = 0; return 1; }
    long N = (long)floor(M_PI * sa / sd + 0.5); /* half the mean period, samples */
    if (N < 1) N = 1;
    if (N >= n) N = n - 1;
    *freq = m->c.fs / (2.0 * N);
    double num = 0, den = 0;
    for (long i = N; i < n; i++) {
        double x = w[i], xn = w[i - N];
        num += fabs(x + xn); den += fabs(x) + fabs(xn);
    }
    return den > 0 ? num / den : 1;
}

/* End of a one-second block at sample `end`: lead status, quality, VF. */
static void on_block(pf_bedmon *m, int64_t end, uint32_t lead_off)
{
    const double fs = m->c.fs;
    int bad = 0;
    long bl = (long)lround(fs);
    for (int l = 0; l < m->ndet; l++) {
        int dev = m->det[l] < 32 && (lead_off >> m->det[l] & 1);
        /* off: the device says so, the trace is digitally flat (< 2 uV), or mostly invalid */
        m->lead_bad[l] = dev || m->bmax[l] - m->bmin[l] < 0.002 || m->bnan[l] > bl / 2;
        bad += m->lead_bad[l];
        int j = (int)(m->nblk % KBLK);
        m->k2[l][j] = m->s2[l]; m->k4[l][j] = m->s4[l]; m->kn[l][j] = bl;
        m->s2[l] = m->s4[l] = 0;
    }
    for (int k = 0; k < m->npul; k++) {
        int l = MAXDET + k;
        m->pulse_flat[k] = m->bmax[l] - m->bmin[l] < 1e-3 || m->bnan[l] > bl / 2 || !(m->bmax[l] >= m->bmin[l]);
    }
    m->nblk++;
    for (int l = 0; l < MAXDET + MAXPUL; l++) { m->bmin[l] = INFINITY; m->bmax[l] = -INFINITY; m->bnan[l] = 0; }
    int all_off = bad == m->ndet;
    /* lead-off / flat line: every detection lead off for a whole block */
    if (all_off) {
        if (m->off_since < 0) { m->off_since = end - bl; m->nb = 0; m->vrun = 0; } /* no RR interval spans a lead-off */
        if (!(m->active & 1u << PF_ALARM_LEAD_OFF)) emit(m, PF_ALARM_LEAD_OFF, 1, end, NAN);
        m->last_beat = end; /* asystole needs 4 s of signal actually seen */
        if (m->active & 1u << PF_ALARM_ASYSTOLE) emit(m, PF_ALARM_ASYSTOLE, 0, end, NAN);
    } else if (m->active & 1u << PF_ALARM_LEAD_OFF) {
        emit(m, PF_ALARM_LEAD_OFF, 0, end, NAN);
        m->off_since = -1;
        /* the detector re-learns on the returning signal */
    }
    /* signal quality: share of detection leads that are on and whose kurtosis over
     * the last 5 s exceeds 5 (clean ECG is peaky; noise is near-Gaussian: kSQI, Li et al. 2008) */
    if (m->nblk >= KBLK) {
        int good = 0;
        for (int l = 0; l < m->ndet; l++) {
            double a = 0, b = 0, n = 0;
            for (int j = 0; j < KBLK; j++) { a += m->k2[l][j]; b += m->k4[l][j]; n += (double)m->kn[l][j]; }
            double kurt = a > 0 ? n * b / (a * a) : 0;
            good += !m->lead_bad[l] && kurt > 5;
        }
        m->sqi = (double)good / m->ndet;
    }
    int poor = m->nblk >= KBLK && m->sqi == 0 && !all_off && !(m->active & (1u << PF_ALARM_VFIB | 1u << PF_ALARM_ASYSTOLE));
    if (poor) {
        if (m->poor_since < 0) m->poor_since = end;
        if (!(m->active & 1u << PF_ALARM_POOR_SIGNAL) && (double)(end - m->poor_since) >= (m->c.poor_s - 1) * fs)
            emit(m, PF_ALARM_POOR_SIGNAL, 1, end, NAN);
    } else {
        m->poor_since = -1;
        if (m->active & 1u << PF_ALARM_POOR_SIGNAL) emit(m, PF_ALARM_POOR_SIGNAL, 0, end, NAN);
    }
    /* ventricular fibrillation / flutter: every live detection lead fibrillatory over vf_s */
    if (end - m->origin >= (int64_t)(m->c.vf_s * fs) + 2 && !all_off) {
        int64_t a = end - (int64_t)(m->c.vf_s * fs);
        /* an organised rhythm is not VF whatever its leakage (e.g. VT): the scan of the 4 s
         * window, about a fifth of a bed's DSP, is skipped and the leakage is not known */
        int org = organised(m, a, end - m->la);
        double worst = org ? NAN : 0;
        int ok = !org, nl = 0;
        for (int l = 0; l < m->ndet && !org; l++) {
            if (m->lead_bad[l]) continue;
            double f, p2p, lk = vf_leakage(m, l, end, &f, &p2p);
            if (lk > worst) worst = lk;
            ok &= f >= 3.0 && f <= 10.0 && p2p > 0.1; /* 180-600 /min: flutter and fibrillation, not VT */
            nl++;
        }
        m->leak = worst;
        int vf = nl && ok && worst < m->c.vf_leakage;
        if (vf && pulses_confirm(m, a, end, 30)) vf = 0;
        if (vf) { m->vf_pos++; m->vf_neg = 0; } else { m->vf_neg++; m->vf_pos = 0; }
        if (vf && !(m->active & 1u << PF_ALARM_VFIB)) {
            emit(m, PF_ALARM_VFIB, 1, end, worst * 1000);
        }
        else if ((m->active & 1u << PF_ALARM_VFIB) && m->vf_neg >= 2) emit(m, PF_ALARM_VFIB, 0, end, worst * 1000);
        if (m->active & 1u << PF_ALARM_VFIB) m->last_beat = m->vf_until = end; /* time in VF counts towards neither asystole nor a rate */
    }
}

/* Asystole: no QRS for asystole_s, decided once the detector's look-ahead has passed. */
static void check_asystole(pf_bedmon *m)
{
    int64_t horizon = m->pos - m->la, trig = m->last_beat + (int64_t)llround(m->c.asystole_s * m->c.fs);
    /* VF has its own alarm: no QRS during fibrillation is not a second, asystole alarm */
    if ((m->active & (1u << PF_ALARM_ASYSTOLE | 1u << PF_ALARM_LEAD_OFF | 1u << PF_ALARM_VFIB)) || horizon < trig) return;
    /* pulses in the last asystole_s: the ECG lost the beats, the heart did not stop */
    int64_t a = horizon - (int64_t)llround(m->c.asystole_s * m->c.fs);
    if (pulses_confirm(m, a, horizon, 20)) return;
    emit(m, PF_ALARM_ASYSTOLE, 1, trig, NAN);
}

static int grow(pf_bedmon *m, long n)
{
    if (n <= m->cap) return PF_OK;
    long c = n + 256;
    float *a = realloc(m->ibuf, sizeof(float) * (size_t)c * m->ndet), *b = a ? realloc(m->fbuf, sizeof(float) * (size_t)c * m->ndet) : NULL;
    if (a) m->ibuf = a;
    if (b) m->fbuf = b;
    float *p = b ? realloc(m->pbuf, sizeof(float) * (size_t)c) : NULL;
    if (p) m->pbuf = p;
    long pkc = c / 20 + 64;
    long *pk = p ? realloc(m->pk, sizeof(long) * (size_t)pkc) : NULL;
    if (!pk) return pf_err(PF_ENOMEM, "monitor: out of memory for %ld samples", n);
    m->pk = pk;
    m->pkcap = pkc;
    m->cap = c;
    return PF_OK;
}

int pf_bedmon_process(pf_bedmon *m, const float *x, int n, int64_t start, uint32_t lead_off,
                      pf_bedmon_event *ev, int max, int *nev, int64_t *peaks, int pmax, int *np)
{
    m->ev = ev; m->evmax = max; m->nev = 0;
    m->outpk = peaks; m->outmax = pmax; m->nout = 0;
    if (nev) *nev = 0;
    if (np) *np = 0;
    if (m->started && start < m->pos)
        return pf_err(PF_EINVAL, "monitor: chunk starts at sample %lld, before the end of the previous one (%lld)", (long long)start, (long long)m->pos);
    if (!m->started || start > m->pos) {
        int rc = restart(m, start);
        if (rc) return rc;
        m->started = 1;
    }
    const double fs = m->c.fs;
    long bl = (long)lround(fs);
    int done = 0;
    while (done < n) {
        /* up to the next one-second block boundary */
        long into = (long)((m->pos - m->origin) % bl), len = bl - into;
        if (len > n - done) len = n - done;
        int rc = grow(m, len);
        if (rc) return rc;
        int nd = m->ndet;
        for (int l = 0; l < nd; l++) {
            const float *src = x + (size_t)m->det[l] * n + done;
            for (long t = 0; t < len; t++) {
                float v = src[t];
                if (!isfinite(v)) { m->bnan[l]++; v = 0; }
                else { if (v < m->bmin[l]) m->bmin[l] = v; if (v > m->bmax[l]) m->bmax[l] = v; }
                m->ibuf[t * nd + l] = v;
            }
        }
        pf_sos_process(m->flt, m->ibuf, m->fbuf, (size_t)len);
        m->fed = 1;
        long r = (long)((m->pos - m->origin) % m->ring_n);
        for (long t = 0; t < len; t++, r = r + 1 == m->ring_n ? 0 : r + 1) {
            size_t ri = (size_t)r * nd;
            for (int l = 0; l < nd; l++) {
                float v = m->fbuf[t * nd + l];
                m->ring[ri + l] = v;
                double v2 = (double)v * v;
                m->s2[l] += v2; m->s4[l] += v2 * v2;
            }
        }
        m->pos += len;
        /* pulses first, so beats of this block can be checked against them */
        for (int k = 0; k < m->npul; k++) {
            const float *src = x + (size_t)m->pul[k] * n + done;
            int l = MAXDET + k;
            for (long t = 0; t < len; t++) {
                float v = src[t];
                if (!isfinite(v)) { m->bnan[l]++; v = 0; }
                else { if (v < m->bmin[l]) m->bmin[l] = v; if (v > m->bmax[l]) m->bmax[l] = v; }
                m->pbuf[t] = v;
            }
            size_t got = 0;
            if (pf_rpeak_process(m->pp[k], m->pbuf, (size_t)len, m->pk, (size_t)m->pkcap, &got)) return PF_EINVAL;
            for (size_t i = 0; i < got; i++) {
                int64_t t = m->origin + m->pk[i];
                if (m->np && t <= m->pt[(m->np - 1) % HIST] + (int64_t)(0.3 * fs)) continue; /* the other pulse lead saw it */
                m->pt[m->np++ % HIST] = t;
            }
            if (m->np >= 5) m->prate = 60.0 * fs * 4 / (double)(m->pt[(m->np - 1) % HIST] - m->pt[(m->np - 5) % HIST]);
        }
        m->pulse_seen_to = m->pos - m->la;
        size_t got = 0;
        if (pf_rpeak_process(m->rp, m->ibuf, (size_t)len, m->pk, (size_t)m->pkcap, &got)) return PF_EINVAL;
        for (size_t i = 0; i < got; i++) {
            int64_t r = m->origin + m->pk[i];
            if (m->active & 1u << PF_ALARM_LEAD_OFF) continue;
            if (on_beat(m, r) && m->nout < m->outmax) m->outpk[m->nout++] = r;
        }
        check_asystole(m);
        if ((m->pos - m->origin) % bl == 0) on_block(m, m->pos, lead_off);
        done += (int)len;
    }
    if (nev) *nev = m->nev;
    if (np) *np = m->nout;
    return PF_OK;
}
