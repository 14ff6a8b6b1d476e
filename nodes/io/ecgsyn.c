#include "ecgsyn.h"

#include "pf_error.h"
#include "pf_rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846
#define N_WAVES 5

struct pf_ecgsyn {
    pf_ecgsyn_config c;
    int64_t length;
    double *beats;      /* R-peak times, s; beats[0] <= 0, the last beyond the end */
    int n_beats;
    double theta[N_WAVES], width[N_WAVES];
    int lead_map[12];   /* output lead -> standard lead index */
    double wander_phase[12][2];
    uint64_t noise_key[12];
};

/* Standard lead order and names. */
static const char *const lead_names[12] = {"I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"};
/* Preference order when fewer than 12 leads are asked for. */
static const int subset_order[12] = {1, 6, 0, 2, 3, 4, 5, 7, 8, 9, 10, 11};

/* Wave amplitudes (mV) on the VCG leads X, Y, Z for P, Q, R, S, T; chosen so the
 * projected 12-lead ECG has textbook morphology (R about 1.4 mV in II, rS in V1,
 * R progression across V1-V6, upright T in II). */
static const double vcg_amp[3][N_WAVES] = {
    {0.08, -0.08, 1.20, -0.25, 0.25},  /* X: right to left */
    {0.12, -0.05, 1.10, -0.15, 0.30},  /* Y: superior to inferior */
    {-0.03, 0.05, 0.20, 0.35, -0.15},  /* Z: anterior to posterior */
};
/* Dower's inverse transform: I, II, V1..V6 from X, Y, Z. */
static const double dower[8][3] = {
    {0.632, -0.235, 0.059}, {0.235, 1.066, -0.132}, {-0.515, 0.157, -0.917}, {0.044, 0.164, -1.387},
    {0.882, 0.098, -1.277}, {1.213, 0.127, -0.601}, {1.125, 0.127, -0.086}, {0.831, 0.076, 0.230},
};

void pf_ecgsyn_defaults(pf_ecgsyn_config *c)
{
    *c = (pf_ecgsyn_config){.fs = 500, .duration = 60, .n_leads = 12, .hr_mean = 70, .hr_std = 3, .lf_hf = 0.5,
                            .noise_mv = 0.02, .baseline_mv = 0.1, .powerline_mv = 0, .mains_hz = 50, .seed = 1};
}

/* RR tachogram from ECGSYN's bimodal spectrum: a sum of sinusoids with random
 * phases (the inverse FFT ECGSYN uses), scaled to the requested HRV. */
static int make_beats(pf_ecgsyn *s, pf_rng *rng)
{
    const pf_ecgsyn_config *c = &s->c;
    double rr_mean = 60.0 / c->hr_mean;
    double rr_std = c->hr_std * 60.0 / (c->hr_mean * c->hr_mean);
    enum { NF = 256 };
    double f[NF], a[NF], ph[NF], var = 0;
    double span = c->duration + 20.0, df = 0.5 / NF; /* grid over 0..0.5 Hz */
    const double f1 = 0.1, f2 = 0.25, c1 = 0.01, c2 = 0.01;
    double s1 = c->lf_hf / (1.0 + c->lf_hf), s2 = 1.0 / (1.0 + c->lf_hf);
    for (int j = 0; j < NF; j++) {
        f[j] = (j + 1) * df;
        double p = s1 * exp(-(f[j] - f1) * (f[j] - f1) / (2 * c1 * c1)) / sqrt(2 * PI * c1 * c1)
                 + s2 * exp(-(f[j] - f2) * (f[j] - f2) / (2 * c2 * c2)) / sqrt(2 * PI * c2 * c2);
        a[j] = sqrt(p * df);
        ph[j] = 2 * PI * pf_rng_uniform(rng);
        var += a[j] * a[j] / 2;
    }
    double scale = var > 0 ? rr_std / sqrt(var) : 0;
    int cap = (int)(span / (rr_mean * 0.3)) + 16;
    s->beats = malloc((size_t)cap * sizeof(double));
    if (!s->beats) return pf_err(PF_ENOMEM, "ecgsyn: out of memory for %d beats", cap);
    double t = -rr_mean * pf_rng_uniform(rng); /* first R-peak before the record starts */
    int n = 0;
    while (n < cap) {
        s->beats[n++] = t;
        if (t > c->duration + 2.0) break;
        double rr = rr_mean;
        for (int j = 0; j < NF; j++) rr += scale * a[j] * cos(2 * PI * f[j] * t + ph[j]);
        if (rr < 0.25) rr = 0.25; /* keep physiological even for extreme settings */
        t += rr;
    }
    s->n_beats = n;
    return PF_OK;
}

pf_ecgsyn *pf_ecgsyn_create(const pf_ecgsyn_config *c)
{
    if (!(c->fs >= 10 && c->fs <= 100000)) { pf_err(PF_ERANGE, "ecgsyn: fs %g Hz out of range [10, 100000]", c->fs); return NULL; }
    if (!(c->duration > 0 && c->duration <= 7 * 86400)) { pf_err(PF_ERANGE, "ecgsyn: duration %g s out of range (0, 604800]", c->duration); return NULL; }
    if (c->n_leads < 1 || c->n_leads > 12) { pf_err(PF_ERANGE, "ecgsyn: n_leads %d not in 1..12", c->n_leads); return NULL; }
    if (!(c->hr_mean >= 20 && c->hr_mean <= 250)) { pf_err(PF_ERANGE, "ecgsyn: hr_mean %g bpm not in [20, 250]", c->hr_mean); return NULL; }
    if (!(c->hr_std >= 0 && c->hr_std <= 50)) { pf_err(PF_ERANGE, "ecgsyn: hr_std %g bpm not in [0, 50]", c->hr_std); return NULL; }
    pf_ecgsyn *s = calloc(1, sizeof *s);
    if (!s) { pf_err(PF_ENOMEM, "ecgsyn: out of memory"); return NULL; }
    s->c = *c;
    s->length = (int64_t)llround(c->duration * c->fs);
    pf_rng rng;
    pf_rng_seed(&rng, pf_rng_key(c->seed, 0xEC6, 0, 0));
    if (make_beats(s, &rng)) { free(s); return NULL; }
    /* ECGSYN's heart-rate adaptation of wave angles and widths */
    double hrfact = sqrt(c->hr_mean / 60.0), hrfact2 = sqrt(hrfact);
    const double deg[N_WAVES] = {-70, -15, 0, 15, 100}, b[N_WAVES] = {0.25, 0.1, 0.1, 0.1, 0.4};
    const double tf[N_WAVES] = {hrfact2, hrfact, 1, hrfact, hrfact2};
    for (int i = 0; i < N_WAVES; i++) {
        s->theta[i] = deg[i] * PI / 180.0 * tf[i];
        s->width[i] = b[i] * hrfact;
    }
    for (int l = 0; l < c->n_leads; l++) {
        s->lead_map[l] = c->n_leads == 12 ? l : subset_order[l];
        s->wander_phase[l][0] = 2 * PI * pf_rng_uniform(&rng);
        s->wander_phase[l][1] = 2 * PI * pf_rng_uniform(&rng);
        s->noise_key[l] = pf_rng_key(c->seed, 0x401, (uint64_t)l, 0);
    }
    return s;
}

void pf_ecgsyn_destroy(pf_ecgsyn *s)
{
    if (!s) return;
    free(s->beats);
    free(s);
}

int64_t pf_ecgsyn_length(const pf_ecgsyn *s) { return s->length; }
int pf_ecgsyn_leads(const pf_ecgsyn *s) { return s->c.n_leads; }
const char *pf_ecgsyn_lead_name(const pf_ecgsyn *s, int lead) { return lead_names[s->lead_map[lead]]; }
int pf_ecgsyn_beat_times(const pf_ecgsyn *s, const double **times) { *times = s->beats; return s->n_beats; }

/* Counter-based normal deviate: the noise of a sample depends only on
 * (seed, lead, sample), never on how the record was cut into windows. */
static double sample_noise(uint64_t key, int64_t i)
{
    uint64_t z = key + (uint64_t)i * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    double u1 = ((double)(z >> 40) + 0.5) / 16777216.0, u2 = (double)(z & 0xFFFFFF) / 16777216.0;
    return sqrt(-2.0 * log(u1)) * cos(2 * PI * u2);
}

static double wrap(double x)
{
    while (x > PI) x -= 2 * PI;
    while (x <= -PI) x += 2 * PI;
    return x;
}

int pf_ecgsyn_render(const pf_ecgsyn *s, int64_t start, int n, float *out)
{
    const pf_ecgsyn_config *c = &s->c;
    int L = c->n_leads;
    /* locate the beat interval of the first sample */
    int k = 0;
    double t0 = (double)start / c->fs;
    int lo = 0, hi = s->n_beats - 1;
    while (lo < hi) { int mid = (lo + hi + 1) / 2; if (s->beats[mid] <= t0) lo = mid; else hi = mid - 1; }
    k = lo;
    for (int i = 0; i < n; i++) {
        int64_t idx = start + i;
        if (idx < 0 || idx >= s->length) {
            for (int l = 0; l < L; l++) out[(size_t)l * n + i] = 0;
            continue;
        }
        double t = (double)idx / c->fs;
        while (k + 2 < s->n_beats && s->beats[k + 1] <= t) k++;
        double rr = s->beats[k + 1] - s->beats[k];
        double th = wrap(2 * PI * (t - s->beats[k]) / rr);
        double v[3] = {0, 0, 0};
        for (int w = 0; w < N_WAVES; w++) {
            double d = wrap(th - s->theta[w]);
            double g = exp(-d * d / (2 * s->width[w] * s->width[w]));
            for (int x = 0; x < 3; x++) v[x] += vcg_amp[x][w] * g;
        }
        double std8[8];
        for (int r = 0; r < 8; r++) std8[r] = dower[r][0] * v[0] + dower[r][1] * v[1] + dower[r][2] * v[2];
        double lead[12];
        lead[0] = std8[0];
        lead[1] = std8[1];
        lead[2] = std8[1] - std8[0];               /* III = II - I */
        lead[3] = -(std8[0] + std8[1]) / 2;        /* aVR */
        lead[4] = std8[0] - std8[1] / 2;           /* aVL */
        lead[5] = std8[1] - std8[0] / 2;           /* aVF */
        for (int r = 0; r < 6; r++) lead[6 + r] = std8[2 + r];
        double pl = c->powerline_mv * sin(2 * PI * c->mains_hz * t);
        for (int l = 0; l < L; l++) {
            double x = lead[s->lead_map[l]];
            x += c->baseline_mv * (0.7 * sin(2 * PI * 0.21 * t + s->wander_phase[l][0]) + 0.3 * sin(2 * PI * 0.33 * t + s->wander_phase[l][1]));
            x += pl;
            if (c->noise_mv > 0) x += c->noise_mv * sample_noise(s->noise_key[l], idx);
            out[(size_t)l * n + i] = (float)x;
        }
    }
    return PF_OK;
}

int pf_ecgsyn_rpeaks(const pf_ecgsyn *s, int64_t start, int64_t n, int64_t *out, int cap)
{
    int count = 0;
    for (int k = 0; k < s->n_beats; k++) {
        int64_t idx = llround(s->beats[k] * s->c.fs);
        if (idx < 0 || idx >= s->length || idx < start || idx >= start + n) continue;
        if (count < cap) out[count] = idx;
        count++;
    }
    return count;
}
