/* bedside_sim: N simulated bedside monitors streaming to a central station
 * over the bedside protocol (docs/bedside.md), the way real beds would: one
 * ZeroMQ PUSH connection per bed (or --sockets S shared ones), a chunk every
 * --chunk-ms, at real-time pace or --speed K times faster. --gateway K stands
 * for a ward's network gateway: K beds share a connection, are sampled in
 * step, and each tick's K chunks leave as one multipart message (one frame
 * per bed message, docs/bedside.md). --tick-ms T wakes the simulator every T ms
 * to send what fell due (fewer wake-ups; chunks leave up to T late).
 *
 * Signals: synthetic 12-lead ECG (ECGSYN, nodes/io/ecgsyn.h) or WFDB records
 * replayed (--records DIR --list a,b,c; bed i plays record i mod n, with all
 * its signals, e.g. II,V,PLETH). Events can be injected per bed:
 *   --event BED:TYPE:START_S:DURATION_S   TYPE = asystole | asystole_p (P waves
 *   only) | brady | tachy | vrun (ventricular run) | vf | leadoff | noise
 * and faults of the stream itself:
 *   --fault BED:AT_S:KIND   KIND = reconnect | pause (5 s of heartbeats only) |
 *   gap (a lost chunk) | dup (a duplicated chunk) | swap (two chunks reordered) |
 *   garbage | rate (fs changes mid-stream) | flood (10x its rate for 2 s)
 * --truth FILE writes the injected events (bed,type,alarm,start_s,end_s).
 * Usage: bedside_sim --endpoint tcp://127.0.0.1:5700 --beds 8 [--first-bed 0] --duration 60
 *        [--speed 1] [--fs 500] [--leads 12] [--chunk-ms 40] [--seed 1] ... */
#include "ecgsyn.h"
#include "pf_bedside.h"
#include "pf_error.h"
#include "pf_record.h"

#include <zmq.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXEV 4096
#define MAXLEADS PF_BS_MAX_LEADS

typedef struct { int bed; char type[16]; double t0, dur; } event_t;
typedef struct { int bed; double at; char kind[16]; int done; } fault_t;

typedef struct {
    int16_t *sig;      /* [len][leads] quantised, sample-major */
    int64_t len;
    int leads;
    float gain;
    double fs;
    char names[PF_BS_MAX_INFO];
} base_t;

typedef struct {
    int base;
    int64_t off;       /* phase into the base signal */
    int16_t *own;      /* private signal when events are injected, [dur][leads] */
    uint32_t *off_mask;/* lead-off bits per chunk when own */
    int64_t own_len;
    uint32_t session;
    uint64_t seq, sample;
    uint64_t due_ns;
    int sock, paused_until_chunk, flood_until_chunk, gone;
    int64_t chunk;     /* chunks sent */
    unsigned char *held; size_t held_len; /* swap fault: a chunk held back */
} bed_t;

/* --gateway: the frames collected for one connection in a pass, sent as one multipart message */
typedef struct {
    unsigned char *buf; size_t len, cap;
    size_t *flen; int n, ndata, fcap;
} gw_t;

static void **g_sk;
static gw_t *g_gw; /* NULL: every message leaves at once */
static uint64_t g_sent, g_blocked;

/* One bedside message on connection s; data = a DATA chunk (counted sent or refused). */
static void emit(int s, const void *buf, size_t len, int flags, int data)
{
    if (!g_gw) {
        if (zmq_send(g_sk[s], buf, len, flags) < 0) {
            if (zmq_errno() != EAGAIN) { fprintf(stderr, "bedside_sim: send: %s\n", zmq_strerror(zmq_errno())); exit(2); }
            g_blocked += (uint64_t)data;
        } else g_sent += (uint64_t)data;
        return;
    }
    gw_t *g = &g_gw[s];
    if (g->len + len > g->cap) { g->cap = 2 * (g->len + len); g->buf = realloc(g->buf, g->cap); }
    if (g->n == g->fcap) { g->fcap = g->fcap ? 2 * g->fcap : 64; g->flen = realloc(g->flen, sizeof(size_t) * (size_t)g->fcap); }
    if (!g->buf || !g->flen) { fprintf(stderr, "bedside_sim: out of memory\n"); exit(2); }
    memcpy(g->buf + g->len, buf, len);
    g->len += len;
    g->flen[g->n++] = len;
    g->ndata += data;
}

/* Send what connection s collected; a full socket refuses the whole message (ZeroMQ
 * takes a multipart message whole or not at all). */
static void flush_gw(int s)
{
    gw_t *g = &g_gw[s];
    size_t off = 0;
    for (int f = 0; f < g->n; f++) {
        int more = f + 1 < g->n ? ZMQ_SNDMORE : 0;
        if (zmq_send(g_sk[s], g->buf + off, g->flen[f], ZMQ_DONTWAIT | more) < 0) {
            if (zmq_errno() != EAGAIN || f) { fprintf(stderr, "bedside_sim: send: %s\n", zmq_strerror(zmq_errno())); exit(2); }
            g_blocked += (uint64_t)g->ndata;
            break;
        }
        if (!more) g_sent += (uint64_t)g->ndata;
        off += g->flen[f];
    }
    g->len = 0; g->n = 0; g->ndata = 0;
}

static volatile sig_atomic_t g_stop;
static void on_sig(int s) { (void)s; g_stop = 1; }

static uint64_t now_ns(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec; }
static int64_t wall_us(void) { struct timespec t; clock_gettime(CLOCK_REALTIME, &t); return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000; }

static uint64_t rng_s = 0x9E3779B97F4A7C15ull;
static double urand(void) { rng_s ^= rng_s << 13; rng_s ^= rng_s >> 7; rng_s ^= rng_s << 17; return (double)(rng_s >> 11) * 0x1.0p-53; }
static double nrand(void) { double u = urand() + 1e-12, v = urand(); return sqrt(-2 * log(u)) * cos(2 * M_PI * v); }

static void die(const char *fmt, const char *a) { fprintf(stderr, "bedside_sim: "); fprintf(stderr, fmt, a); fprintf(stderr, "\n"); exit(2); }

static int make_synth_base(base_t *b, double fs, int leads, double hr, double dur, uint64_t seed)
{
    pf_ecgsyn_config c;
    pf_ecgsyn_defaults(&c);
    c.fs = fs; c.n_leads = leads; c.hr_mean = hr; c.duration = dur; c.seed = seed;
    pf_ecgsyn *s = pf_ecgsyn_create(&c);
    if (!s) return -1;
    int64_t n = pf_ecgsyn_length(s);
    /* loop on beat midpoints so the wrap-around is seamless */
    int64_t pk[4096];
    int np = pf_ecgsyn_rpeaks(s, 0, n, pk, 4096);
    int64_t a = np > 3 ? (pk[0] + pk[1]) / 2 : 0, e = np > 3 ? (pk[np - 2] + pk[np - 1]) / 2 : n;
    float *x = malloc(sizeof(float) * (size_t)n * leads);
    pf_ecgsyn_render(s, 0, (int)n, x);
    b->len = e - a;
    b->leads = leads;
    b->fs = fs;
    b->gain = 1000; /* 1 uV */
    b->sig = malloc(sizeof(int16_t) * (size_t)b->len * leads);
    for (int64_t t = 0; t < b->len; t++)
        for (int l = 0; l < leads; l++) b->sig[t * leads + l] = pf_bs_quantise(x[(size_t)l * n + a + t], b->gain);
    b->names[0] = 0;
    for (int l = 0; l < leads; l++) {
        if (l) strcat(b->names, ",");
        strcat(b->names, pf_ecgsyn_lead_name(s, l));
    }
    free(x);
    pf_ecgsyn_destroy(s);
    return 0;
}

static int make_record_base(base_t *b, const char *path)
{
    pf_record *r = pf_record_open(path, NULL);
    if (!r) { fprintf(stderr, "bedside_sim: %s\n", pf_errmsg()); return -1; }
    int nl = pf_record_nleads(r);
    if (nl > MAXLEADS) nl = MAXLEADS;
    int64_t n = pf_record_length(r);
    float *x = malloc(sizeof(float) * (size_t)n * nl);
    if (!x || pf_record_read(r, 0, n, NULL, nl, x)) { fprintf(stderr, "bedside_sim: %s: %s\n", path, pf_errmsg()); return -1; }
    float mx = 1e-3f;
    for (int64_t i = 0; i < n * nl; i++) if (isfinite(x[i]) && fabsf(x[i]) > mx) mx = fabsf(x[i]);
    b->gain = 30000.0f / mx < 1000 ? 30000.0f / mx : 1000; /* one gain per bed: ABP in mmHg must fit too */
    b->len = n; b->leads = nl; b->fs = pf_record_rate(r);
    b->sig = malloc(sizeof(int16_t) * (size_t)n * nl);
    for (int64_t t = 0; t < n; t++)
        for (int l = 0; l < nl; l++) b->sig[t * nl + l] = pf_bs_quantise(x[(size_t)l * n + t], b->gain);
    b->names[0] = 0;
    for (int l = 0; l < nl; l++) {
        if (l) strncat(b->names, ",", sizeof b->names - strlen(b->names) - 1);
        strncat(b->names, pf_record_lead(r, l), sizeof b->names - strlen(b->names) - 1);
    }
    free(x);
    pf_record_close(r);
    return 0;
}

/* ECG-lead mask of a base (pulsatile / other signals are left alone by ECG events). */
static int is_ecg(const char *names, int lead)
{
    const char *p = names;
    for (int i = 0; i < lead && p; i++) { p = strchr(p, ','); if (p) p++; }
    if (!p) return 1;
    static const char *non[] = {"PLETH", "ABP", "ART", "RESP", "CO2", NULL};
    for (int i = 0; non[i]; i++) if (!strncmp(p, non[i], strlen(non[i]))) return 0;
    return 1;
}

/* Overwrite / add the event's waveform into own[t0, t1) (mV via gain). */
static void inject(bed_t *bd, const base_t *b, const event_t *e, double fs, int chunk_n)
{
    int L = b->leads;
    int64_t t0 = (int64_t)(e->t0 * fs), t1 = (int64_t)((e->t0 + e->dur) * fs);
    if (t1 > bd->own_len) t1 = bd->own_len;
    double g = b->gain, ph[MAXLEADS], pol[MAXLEADS];
    for (int l = 0; l < L; l++) { ph[l] = urand() * 2 * M_PI; pol[l] = (l % 3 == 1) ? -1 : 1; }
    double f = 4.5 + urand(), vrate = 170, prate = 70;
    for (int64_t t = t0; t < t1; t++) {
        double s = (double)(t - t0) / fs;
        for (int l = 0; l < L; l++) {
            if (!is_ecg(b->names, l) && strcmp(e->type, "leadoff")) continue;
            int16_t *o = &bd->own[t * L + l];
            double v = NAN;
            if (!strcmp(e->type, "asystole") || !strcmp(e->type, "asystole_p")) {
                v = 0.01 * nrand();
                if (e->type[8] == '_') { double tp = fmod(s, 60.0 / prate) - 0.3; v += 0.15 * exp(-tp * tp / (2 * 0.025 * 0.025)); }
            } else if (!strcmp(e->type, "vrun")) {
                double tb = fmod(s, 60.0 / vrate) - 0.15, sg = 0.045;
                v = pol[l] * 1.6 * (-tb / sg) * exp(-tb * tb / (2 * sg * sg)) - pol[l] * 0.3 * exp(-(tb - 0.22) * (tb - 0.22) / (2 * 0.05 * 0.05)) + 0.02 * nrand();
            } else if (!strcmp(e->type, "vf")) {
                double fm = f + 0.7 * sin(2 * M_PI * 0.2 * s + ph[l]);
                v = 0.45 * (1 + 0.35 * sin(2 * M_PI * 0.3 * s + ph[l])) * sin(2 * M_PI * fm * s + ph[l]) + 0.02 * nrand();
            } else if (!strcmp(e->type, "leadoff")) {
                v = 0;
            } else if (!strcmp(e->type, "noise")) {
                v = (double)*o / g + 0.3 * nrand() + 0.8 * sin(2 * M_PI * 1.3 * s + ph[l]);
            }
            if (!isnan(v)) *o = pf_bs_quantise((float)v, (float)g);
        }
        if (!strcmp(e->type, "leadoff")) bd->off_mask[t / chunk_n] = 0xffffffffu >> (32 - L);
    }
}

/* brady / tachy: splice in a second ECGSYN run at the extreme rate. */
static void inject_rate(bed_t *bd, const base_t *b, const event_t *e, double fs, uint64_t seed)
{
    pf_ecgsyn_config c;
    pf_ecgsyn_defaults(&c);
    c.fs = fs; c.n_leads = b->leads; c.hr_mean = !strcmp(e->type, "brady") ? 30 : 175; c.hr_std = 1;
    c.duration = e->dur + 2; c.seed = seed;
    pf_ecgsyn *s = pf_ecgsyn_create(&c);
    int64_t n = (int64_t)(e->dur * fs), t0 = (int64_t)(e->t0 * fs);
    float *x = malloc(sizeof(float) * (size_t)n * b->leads);
    pf_ecgsyn_render(s, 0, (int)n, x);
    for (int64_t t = 0; t < n && t0 + t < bd->own_len; t++)
        for (int l = 0; l < b->leads; l++) bd->own[(t0 + t) * b->leads + l] = pf_bs_quantise(x[(size_t)l * n + t], b->gain);
    free(x);
    pf_ecgsyn_destroy(s);
}

static const char *alarm_of(const char *type)
{
    if (!strncmp(type, "asystole", 8)) return "asystole";
    if (!strcmp(type, "brady")) return "brady";
    if (!strcmp(type, "tachy")) return "tachy";
    if (!strcmp(type, "vrun")) return "vtach";
    if (!strcmp(type, "vf")) return "vfib";
    if (!strcmp(type, "leadoff")) return "lead_off";
    if (!strcmp(type, "noise")) return "none";
    return NULL;
}

int main(int argc, char **argv)
{
    const char *endpoint = "tcp://127.0.0.1:5700", *records = NULL, *list = NULL, *truth = NULL;
    int beds = 4, leads = 12, sockets = 0, first = 0, gateway = 0;
    double dur = 60, speed = 1, fs = 500, chunk_ms = 40, loop_s = 60, tick_ms = 0;
    uint64_t seed = 1;
    static event_t ev[MAXEV]; int nev = 0;
    static fault_t fa[MAXEV]; int nfa = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: bedside_sim [--endpoint tcp://127.0.0.1:5700] [--beds N] [--first-bed K] [--duration S] [--speed K]\n"
                   "                   [--fs HZ] [--leads 1..12] [--chunk-ms MS] [--sockets S | --gateway K] [--tick-ms MS] [--loop S] [--seed N]\n"
                   "                   [--records DIR --list a,b,c] [--event BED:TYPE:START_S:DURATION_S]... [--fault BED:AT_S:KIND]...\n"
                   "                   [--truth FILE]\n"
                   "  TYPE: asystole asystole_p brady tachy vrun vf leadoff noise\n"
                   "  KIND: reconnect pause gap dup swap garbage rate flood\n"
                   "  --speed 1 = real time (default), K = K times faster, 0 = as fast as possible\n");
            return 0;
        }
        if (!v) die("option '%s' needs a value", a);
        i++;
        if (!strcmp(a, "--endpoint")) endpoint = v;
        else if (!strcmp(a, "--beds")) beds = atoi(v);
        else if (!strcmp(a, "--first-bed")) first = atoi(v);
        else if (!strcmp(a, "--duration")) dur = atof(v);
        else if (!strcmp(a, "--speed")) speed = atof(v);
        else if (!strcmp(a, "--fs")) fs = atof(v);
        else if (!strcmp(a, "--leads")) leads = atoi(v);
        else if (!strcmp(a, "--chunk-ms")) chunk_ms = atof(v);
        else if (!strcmp(a, "--loop")) loop_s = atof(v);
        else if (!strcmp(a, "--sockets")) sockets = atoi(v);
        else if (!strcmp(a, "--gateway")) gateway = atoi(v);
        else if (!strcmp(a, "--tick-ms")) tick_ms = atof(v);
        else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--records")) records = v;
        else if (!strcmp(a, "--list")) list = v;
        else if (!strcmp(a, "--truth")) truth = v;
        else if ((!strcmp(a, "--event") && nev == MAXEV) || (!strcmp(a, "--fault") && nfa == MAXEV)) die("more than %s --event or --fault options", "4096");
        else if (!strcmp(a, "--event")) {
            event_t *e = &ev[nev];
            if (sscanf(v, "%d:%15[^:]:%lf:%lf", &e->bed, e->type, &e->t0, &e->dur) != 4 || !alarm_of(e->type) || e->dur <= 0)
                die("--event '%s': expected BED:TYPE:START_S:DURATION_S with TYPE asystole|asystole_p|brady|tachy|vrun|vf|leadoff|noise", v);
            nev++;
        } else if (!strcmp(a, "--fault")) {
            fault_t *f = &fa[nfa];
            if (sscanf(v, "%d:%lf:%15s", &f->bed, &f->at, f->kind) != 3) die("--fault '%s': expected BED:AT_S:KIND", v);
            nfa++;
        } else die("unknown option '%s' (see the comment at the top of bedside_sim.c)", a);
    }
    if (beds < 1 || leads < 1 || leads > 12 || !(speed >= 0) || !(chunk_ms >= 1) || gateway < 0 || !(tick_ms >= 0)) die("bad --beds/--leads/--speed/--chunk-ms/--gateway%s", "");
    if (gateway && sockets) die("--gateway K sets the connections (one per K beds): leave out --sockets%s", "");
    rng_s ^= seed * 0x2545F4914F6CDD1Dull;
    /* bases: records, or up to 8 synthetic patients (different seeds and rates) */
    int nbase = 0;
    base_t *base = NULL;
    if (records) {
        if (!list) die("--records needs --list a,b,c%s", "");
        char *dup = strdup(list), *save = NULL;
        for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            base = realloc(base, sizeof *base * (size_t)(nbase + 1));
            char path[1200];
            snprintf(path, sizeof path, "%s/%s", records, t);
            if (make_record_base(&base[nbase], path)) return 1;
            nbase++;
        }
        free(dup);
        fs = base[0].fs;
    } else {
        nbase = beds < 8 ? beds : 8;
        base = calloc((size_t)nbase, sizeof *base);
        for (int k = 0; k < nbase; k++)
            if (make_synth_base(&base[k], fs, leads, 60 + 7 * k, loop_s, seed * 1000 + (uint64_t)k)) die("ECGSYN failed: %s", pf_errmsg());
    }
    int chunk_n = (int)lround(chunk_ms * 1e-3 * fs);
    if (chunk_n < 1 || chunk_n * 1 > PF_BS_MAX_SAMPLES) die("--chunk-ms gives %s samples out of range", "a number of");
    int64_t total = (int64_t)(dur * fs);
    bed_t *bd = calloc((size_t)beds, sizeof *bd);
    for (int i = 0; i < beds; i++) {
        bd[i].base = i % nbase;
        bd[i].off = records ? 0 : (int64_t)(urand() * (double)base[bd[i].base].len);
        /* sessions differ between runs (a restarted bed is a reconnect), whatever the seed */
        bd[i].session = (uint32_t)(1 + ((uint64_t)getpid() * 2654435761u + (uint64_t)wall_us() + (uint64_t)i * 40503u) % 4000000000u);
    }
    /* beds with events get their own copy of the signal */
    FILE *tf = truth ? fopen(truth, "w") : NULL;
    if (truth && !tf) die("cannot write the truth file '%s'", truth);
    if (tf) fprintf(tf, "bed,type,alarm,start_s,end_s\n");
    for (int k = 0; k < nev; k++) {
        event_t *e = &ev[k];
        if (e->bed < first || e->bed >= first + beds) die("event for bed %s out of range (beds are --first-bed .. + --beds - 1)", "");
        bed_t *b = &bd[e->bed - first];
        const base_t *bs = &base[b->base];
        if (!b->own) {
            b->own_len = records ? bs->len : total;
            b->own = malloc(sizeof(int16_t) * (size_t)b->own_len * bs->leads);
            b->off_mask = calloc((size_t)(b->own_len / chunk_n + 2), sizeof(uint32_t));
            for (int64_t t = 0; t < b->own_len; t++)
                memcpy(&b->own[t * bs->leads], &bs->sig[((b->off + t) % bs->len) * bs->leads], sizeof(int16_t) * (size_t)bs->leads);
        }
        if (!strcmp(e->type, "brady") || !strcmp(e->type, "tachy")) inject_rate(b, bs, e, fs, seed * 77 + (uint64_t)k);
        else inject(b, bs, e, fs, chunk_n);
        if (tf) fprintf(tf, "%d,%s,%s,%.3f,%.3f\n", e->bed, e->type, alarm_of(e->type), e->t0, e->t0 + e->dur);
    }
    if (tf) fclose(tf);

    void *ctx = zmq_ctx_new();
    int io = 2;
    zmq_ctx_set(ctx, ZMQ_IO_THREADS, io);
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, beds + 16);
    int K = gateway > 1 ? gateway : 1, ngr = (beds + K - 1) / K;
    int ns = gateway ? ngr : sockets > 0 && sockets < beds ? sockets : beds;
    void **sk = calloc((size_t)ns, sizeof *sk);
    g_sk = sk;
    if (gateway) g_gw = calloc((size_t)ns, sizeof *g_gw);
    int hwm = 1000, linger = 2000;
    for (int s = 0; s < ns; s++) {
        sk[s] = zmq_socket(ctx, ZMQ_PUSH);
        if (!sk[s]) die("cannot create socket: %s", zmq_strerror(zmq_errno()));
        zmq_setsockopt(sk[s], ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt(sk[s], ZMQ_LINGER, &linger, sizeof linger);
        if (zmq_connect(sk[s], endpoint)) die("cannot connect to '%s'", endpoint);
    }
    for (int i = 0; i < beds; i++) bd[i].sock = gateway ? i / K : i % ns;
    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);
    size_t cap = PF_BS_HEADER + (size_t)chunk_n * MAXLEADS * 2 * 10 + PF_BS_MAX_INFO;
    unsigned char *buf = malloc(cap);
    int16_t *tmp = malloc(sizeof(int16_t) * (size_t)chunk_n * MAXLEADS);
    uint64_t period = speed > 0 ? (uint64_t)(chunk_ms * 1e6 / speed) : 0, t0 = now_ns();
    /* a chunk leaves once its last sample has been acquired: chunk k holds the samples
     * acquired in [t0_us + k period, t0_us + (k+1) period) and is due at t0 + (k+1) period
     * (plus its bed's phase), so latencies measured from acquisition times include the
     * wait for the chunk to fill, as with a real device */
    int64_t t0_us = wall_us() - (int64_t)(chunk_ms * 1e3 / (speed > 0 ? speed : 1));
    uint64_t tick = (uint64_t)(tick_ms * 1e6 / (speed > 0 ? speed : 1));
    /* the beds (a gateway's beds in step) spread over a period; gdue: a group's earliest due
     * time, so a pass skips the groups not due without looking at each bed */
    uint64_t *gdue = malloc(sizeof(uint64_t) * (size_t)ngr);
#define phase_ns(bed) (period * (uint64_t)((bed) / K) / (uint64_t)ngr)
    for (int i = 0; i < beds; i++) bd[i].due_ns = t0 + phase_ns(i);
    for (int g = 0; g < ngr; g++) gdue[g] = bd[g * K].due_ns;
    int alive = beds;
    while (!g_stop && alive) {
        uint64_t now = now_ns(), next = UINT64_MAX;
        for (int i = 0; i < beds && !g_stop; i++) {
            bed_t *b = &bd[i];
            if (i % K == 0) {
                int g = i / K;
                if (gdue[g] > now) { if (gdue[g] < next) next = gdue[g]; i += K - 1; continue; }
                gdue[g] = UINT64_MAX; /* recomputed from its beds below */
            }
            uint64_t *gd = &gdue[i / K];
            if (b->gone) continue;
            if (b->due_ns > now) { if (b->due_ns < next) next = b->due_ns; if (b->due_ns < *gd) *gd = b->due_ns; continue; }
            const base_t *bs = &base[b->base];
            int64_t pos = b->chunk * chunk_n;
            double tsec = (double)pos / fs;
            int64_t end_len = records ? bs->len : total;
            pf_bs_msg m = {.type = PF_BS_DATA, .bed = (uint32_t)(i + first), .session = b->session, .fs = (float)fs, .n_leads = (uint16_t)bs->leads, .gain = bs->gain};
            if (pos >= end_len) {
                m.type = PF_BS_BYE; m.seq = b->seq++; m.t_us = t0_us + (int64_t)(tsec * 1e6 / (speed > 0 ? speed : 1)); m.sample = b->sample;
                int len = pf_bs_encode(&m, buf, cap);
                emit(b->sock, buf, (size_t)len, 0, 0);
                b->gone = 1; alive--;
                continue;
            }
            /* faults due now */
            int skip = 0, dup = 0, swap = 0;
            for (int k = 0; k < nfa; k++) {
                fault_t *f = &fa[k];
                if (f->done || f->bed != i + first || f->at > tsec) continue;
                f->done = 1;
                fprintf(stderr, "bedside_sim: bed %d at %.1f s: fault %s\n", i + first, tsec, f->kind);
                if (!strcmp(f->kind, "reconnect")) {
                    /* a new connection and session after 2 s of silence */
                    if (ns == beds) { zmq_close(sk[b->sock]); sk[b->sock] = zmq_socket(ctx, ZMQ_PUSH); zmq_setsockopt(sk[b->sock], ZMQ_LINGER, &linger, sizeof linger); zmq_connect(sk[b->sock], endpoint); }
                    b->session++; b->seq = 0; b->sample = 0;
                    int64_t lost = (int64_t)(2.0 * fs / chunk_n);
                    b->chunk += lost;
                    skip = 2;
                } else if (!strcmp(f->kind, "pause")) b->paused_until_chunk = (int)(b->chunk + (int64_t)(5.0 * fs / chunk_n));
                else if (!strcmp(f->kind, "gap")) skip = 1;
                else if (!strcmp(f->kind, "dup")) dup = 1;
                else if (!strcmp(f->kind, "swap")) swap = 1;
                else if (!strcmp(f->kind, "flood")) b->flood_until_chunk = (int)(b->chunk + (int64_t)(2.0 * fs / chunk_n));
                else if (!strcmp(f->kind, "garbage")) { for (int q = 0; q < 100; q++) buf[q] = (unsigned char)(urand() * 256); emit(b->sock, buf, 100, 0, 0); }
                else if (!strcmp(f->kind, "rate")) m.fs = (float)(fs * 2);
                else die("unknown fault kind '%s' (reconnect|pause|gap|dup|swap|garbage|rate|flood)", f->kind);
            }
            if (skip == 2) { b->due_ns += period * (uint64_t)(2.0 * fs / chunk_n); if (b->due_ns < *gd) *gd = b->due_ns; continue; }
            if (b->chunk < b->paused_until_chunk) {
                m.type = PF_BS_HEARTBEAT; m.seq = b->seq++; m.t_us = wall_us(); m.sample = b->sample;
                int len = pf_bs_encode(&m, buf, cap);
                emit(b->sock, buf, (size_t)len, ZMQ_DONTWAIT, 0);
                b->chunk++; b->sample += (uint64_t)chunk_n; /* samples not sent are lost: a gap follows */
                b->due_ns += period;
                if (b->due_ns < *gd) *gd = b->due_ns;
                continue;
            }
            if (b->seq == 0 || b->chunk % (int64_t)(10.0 * fs / chunk_n) == 0) {
                pf_bs_msg in = m;
                in.type = PF_BS_INFO; in.seq = b->seq++; in.t_us = wall_us(); in.sample = b->sample;
                in.info = bs->names; in.info_len = strlen(bs->names);
                int len = pf_bs_encode(&in, buf, cap);
                emit(b->sock, buf, (size_t)len, 0, 0);
            }
            int reps = b->chunk < b->flood_until_chunk ? 10 : 1;
            for (int rep = 0; rep < reps; rep++) {
                int n = (int)(end_len - pos < chunk_n ? end_len - pos : chunk_n);
                const int16_t *src;
                if (b->own) { src = &b->own[pos * bs->leads]; m.lead_off = b->off_mask[b->chunk]; }
                else { /* the base signal loops: read in place unless the chunk wraps */
                    int64_t at = (b->off + pos) % bs->len, k1 = bs->len - at < n ? bs->len - at : n;
                    src = &bs->sig[at * bs->leads];
                    if (k1 < n) {
                        memcpy(tmp, src, sizeof(int16_t) * (size_t)(k1 * bs->leads));
                        memcpy(&tmp[k1 * bs->leads], bs->sig, sizeof(int16_t) * (size_t)((n - k1) * bs->leads));
                        src = tmp;
                    }
                }
                m.n_samples = (uint16_t)n;
                m.samples = src;
                m.seq = b->seq++;
                m.sample = b->sample;
                /* acquisition time of the first sample on the bed's sample clock (at --speed 1
                 * that is the wall clock; faster, it runs ahead and latencies are not meaningful):
                 * a bed's group samples with its own phase within the period, the phase at which
                 * it sends, so a chunk leaves as its last sample is acquired */
                m.t_us = t0_us + (int64_t)(phase_ns(i) / 1000) + (int64_t)(tsec * 1e6);
                int len = pf_bs_encode(&m, buf, cap);
                if (skip == 1) { /* lost in transit */ }
                else if (swap && !b->held) { b->held = malloc((size_t)len); memcpy(b->held, buf, (size_t)len); b->held_len = (size_t)len; }
                else {
                    emit(b->sock, buf, (size_t)len, ZMQ_DONTWAIT, 1);
                    if (dup) emit(b->sock, buf, (size_t)len, ZMQ_DONTWAIT, 0);
                    if (b->held && !swap) { emit(b->sock, b->held, b->held_len, ZMQ_DONTWAIT, 0); free(b->held); b->held = NULL; }
                }
                if (rep == 0) { b->sample += (uint64_t)n; b->chunk++; pos += n; tsec = (double)pos / fs; }
                if (pos >= end_len) break;
            }
            b->due_ns += period;
            if (b->due_ns < next) next = b->due_ns;
            if (b->due_ns < *gd) *gd = b->due_ns;
        }
        for (int s = 0; g_gw && s < ns; s++) if (g_gw[s].n) flush_gw(s);
        if (speed > 0 && next != UINT64_MAX) {
            /* --tick-ms: wake on a coarser clock and send all that fell due (fewer wake-ups and
             * sends; each chunk leaves up to a tick late, which its latency then includes) */
            if (tick) next = t0 + (next - t0 + tick - 1) / tick * tick;
            uint64_t n2 = now_ns();
            if (next > n2) { struct timespec ts = {(time_t)((next - n2) / 1000000000ull), (long)((next - n2) % 1000000000ull)}; nanosleep(&ts, NULL); }
        }
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    fprintf(stderr, "bedside_sim: %d beds, %llu chunks sent in %.1f s (%llu refused by a full socket: the station fell behind)\n", beds,
            (unsigned long long)g_sent, secs, (unsigned long long)g_blocked);
    for (int s = 0; s < ns; s++) zmq_close(sk[s]);
    zmq_ctx_term(ctx);
    for (int i = 0; i < beds; i++) { free(bd[i].own); free(bd[i].off_mask); free(bd[i].held); }
    for (int k = 0; k < nbase; k++) free(base[k].sig);
    for (int s = 0; g_gw && s < ns; s++) { free(g_gw[s].buf); free(g_gw[s].flen); }
    free(bd); free(base); free(sk); free(buf); free(tmp); free(gdue); free(g_gw);
    return 0;
}
