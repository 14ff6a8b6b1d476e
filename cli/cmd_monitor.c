/* physioflow monitor: scoring the bedside monitor (nodes/monitor/pf_bedmon).
 *
 *   monitor accuracy --data DIR [--window S] [RECORD...]
 *     the PhysioNet/CinC 2015 false-alarm records (DIR/ALARMS: record,type,true):
 *     each record is streamed through the monitor in time order, in 0.25 s chunks
 *     as a bed would send it, with its ECG leads and PLETH/ABP where recorded.
 *     The monitor "raises" the record's alarm when an alarm of that type is active
 *     at some instant of [alarm - S, alarm] (real time: data up to the alarm at
 *     5:00) or [alarm - S, alarm + 30 s] (retrospective: up to 30 s more, `l`
 *     records). S = 16 s by default: the challenge puts the alarm's onset within
 *     the 10 s before it sounds, plus the 4-6 s a condition takes to complete.
 *     Score (TP+TN)/(TP+TN+FP+5 FN) per alarm type and overall.
 *     --method detect: the streaming monitor's own alarms, as above; verify: the
 *     record's alarm checked against every signal over the same interval
 *     (pf_alarmcheck, data up to the alarm, or 30 s after it); both (default):
 *     raised when either raises it, unless the verification refuted it
 *     conclusively from a good pulse signal (pf_alarmcheck.h, `refuted`).
 *   monitor replay RECORD [--until S]   every event of one record, for inspection
 *   monitor truth --truth TRUTH.csv --events EVENTS.jsonl [--tolerance S]
 *     the simulator's injected events against the monitor's: sensitivity,
 *     positive predictivity and time to alarm per type.
 */
#include "pf_alarmcheck.h"
#include "pf_bedmon.h"
#include "pf_error.h"
#include "pf_record.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int usage(void)
{
    fprintf(stderr, "usage: physioflow monitor accuracy --data DIR [--method detect|verify|both] [--window S] [--verbose] [RECORD...]\n"
                    "       physioflow monitor replay RECORD_PATH [--until S]\n"
                    "       physioflow monitor truth --truth TRUTH.csv --events EVENTS.jsonl [--tolerance S]\n");
    return 2;
}

static int challenge_type(const char *s)
{
    if (!strcmp(s, "Asystole")) return PF_ALARM_ASYSTOLE;
    if (!strcmp(s, "Bradycardia")) return PF_ALARM_BRADY;
    if (!strcmp(s, "Tachycardia")) return PF_ALARM_TACHY;
    if (!strcmp(s, "Ventricular_Tachycardia")) return PF_ALARM_VTACH;
    if (!strcmp(s, "Ventricular_Flutter_Fib")) return PF_ALARM_VFIB;
    return 0;
}

/* Per alarm type: the intervals [on, off) during which it was active (samples). */
typedef struct { int64_t on[256], off[256]; int n; } spans;

/* A record's signal names, comma-separated (the bedside INFO form). */
static void record_names(pf_record *r, char *names, size_t cap)
{
    names[0] = 0;
    for (int i = 0; i < pf_record_nleads(r); i++) {
        if (i) strncat(names, ",", cap - strlen(names) - 1);
        strncat(names, pf_record_lead(r, i), cap - strlen(names) - 1);
    }
}

/* Stream [0, until) of a record through a fresh monitor. */
static int run_record(const char *path, double until_s, spans *sp, int verbose)
{
    pf_record *r = pf_record_open(path, NULL);
    if (!r) return PF_EFORMAT;
    int nl = pf_record_nleads(r);
    double fs = pf_record_rate(r);
    char names[512];
    record_names(r, names, sizeof names);
    pf_bedmon_cfg c;
    pf_bedmon_cfg_default(&c, fs, nl);
    c.lead_names = names;
    pf_bedmon *m = pf_bedmon_create(&c);
    if (!m) { pf_err_context(PF_EINVAL, "%s", path); pf_record_close(r); return PF_EINVAL; }
    int64_t len = pf_record_length(r), end = (int64_t)llround(until_s * fs);
    if (end > len) end = len;
    int chunk = (int)lround(0.25 * fs);
    float *x = malloc(sizeof(float) * (size_t)chunk * nl);
    pf_bedmon_event ev[64];
    int64_t pk[64];
    for (int t = 0; t < PF_ALARM_N; t++) sp[t].n = 0;
    int rc = x ? PF_OK : PF_ENOMEM;
    for (int64_t s = 0; !rc && s < end; s += chunk) {
        int n = (int)(end - s < chunk ? end - s : chunk);
        rc = pf_record_read(r, s, n, NULL, nl, x);
        int nev = 0, np = 0;
        if (!rc) rc = pf_bedmon_process(m, x, n, s, 0, ev, 64, &nev, pk, 64, &np);
        for (int i = 0; !rc && i < nev; i++) {
            spans *a = &sp[ev[i].type];
            if (verbose) printf("%8.2f s  %-12s %s  (value %.1f)\n", (double)ev[i].sample / fs, pf_alarm_name(ev[i].type), ev[i].onset ? "ON " : "off", ev[i].value);
            if (ev[i].onset && a->n < 256) { a->on[a->n] = ev[i].sample; a->off[a->n] = INT64_MAX; a->n++; }
            else if (!ev[i].onset && a->n) a->off[a->n - 1] = ev[i].sample;
        }
    }
    if (verbose && !rc) {
        double st[PF_ST_N];
        pf_bedmon_state(m, st);
        printf("end: HR %.1f, pulse %.1f, SQI %.2f, beats %.0f (ventricular %.0f), lead-off %s\n", st[PF_ST_HR], st[PF_ST_PULSE_RATE], st[PF_ST_SQI],
               st[PF_ST_BEATS], st[PF_ST_VBEATS], names);
    }
    free(x);
    pf_bedmon_destroy(m);
    pf_record_close(r);
    return rc;
}

/* Verification (--method verify): the record's samples from `hist` s before the
 * interval [alarm - win, until) through pf_alarmcheck; 1 raise / 0 suppress / <0 error. */
static int verify_record(const char *path, int type, double win, double hist, double until_s, int verbose, int *refuted)
{
    pf_record *r = pf_record_open(path, NULL);
    if (!r) return -1;
    int nl = pf_record_nleads(r);
    double fs = pf_record_rate(r);
    char names[512];
    record_names(r, names, sizeof names);
    int64_t alarm = (int64_t)llround(300 * fs), end = (int64_t)llround(until_s * fs), len = pf_record_length(r);
    if (end > len) end = len;
    int64_t a = alarm - (int64_t)llround((win + hist) * fs);
    if (a < 0) a = 0;
    long n = (long)(end - a), w0 = (long)(alarm - (int64_t)llround(win * fs) - a);
    if (w0 < 0) w0 = 0;
    float *x = malloc(sizeof(float) * (size_t)n * nl);
    pf_alarmcheck v;
    int rc = x ? pf_record_read(r, a, n, NULL, nl, x) : PF_ENOMEM;
    if (!rc) rc = pf_alarmcheck_run(type, x, nl, names, n, w0, fs, &v);
    free(x);
    pf_record_close(r);
    if (rc) { pf_err_context(rc, "%s", path); return -1; }
    if (verbose)
        for (int i = 0; i < v.nch; i++)
            printf("    %-6s %-5s %-12s beats %3d  gap %5.1f s  rate %6.1f..%6.1f  kSQI %5.1f  %s\n", v.ch[i].name, v.ch[i].good ? "good" : "poor",
                   v.ch[i].verdict == PF_VERDICT_SUPPORTS ? "supports" : v.ch[i].verdict == PF_VERDICT_CONTRADICTS ? "contradicts" : "-",
                   v.ch[i].beats, v.ch[i].max_gap_s, v.ch[i].min_rate, v.ch[i].max_rate, v.ch[i].ksqi, v.ch[i].why ? v.ch[i].why : "");
    if (verbose && type == PF_ALARM_VTACH)
        for (int i = 0; i < v.nch; i++)
            if (!v.ch[i].pulse) printf("    %-6s ventricular beats %2d, runs %d, QRS %5.0f ms before, %5.0f ms in the first run%s\n", v.ch[i].name, v.ch[i].vbeats, v.ch[i].vruns,
                                       v.ch[i].qrs_native_ms, v.ch[i].qrs_run_ms, v.ch[i].regular ? "; regular rhythm" : "");
    *refuted = v.refuted;
    return v.raise;
}

static int active_in(const spans *a, int64_t lo, int64_t hi)
{
    for (int i = 0; i < a->n; i++)
        if (a->on[i] <= hi && a->off[i] > lo) return 1;
    return 0;
}

typedef struct { int tp, fp, tn, fn; } conf;
static double score(conf c) { double d = c.tp + c.tn + c.fp + 5.0 * c.fn; return d > 0 ? 100.0 * (c.tp + c.tn) / d : NAN; }

static int cmd_accuracy(int argc, char **argv)
{
    const char *dir = NULL;
    double win = 16, hist = 30;
    int method = 2, verbose = 0; /* 0 detect, 1 verify, 2 both */
    const char *only[512];
    int nonly = 0;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--window") && i + 1 < argc) win = atof(argv[++i]);
        else if (!strcmp(argv[i], "--method") && i + 1 < argc) {
            const char *mth = argv[++i];
            if (!strcmp(mth, "detect")) method = 0;
            else if (!strcmp(mth, "verify")) method = 1;
            else if (!strcmp(mth, "both")) method = 2;
            else { fprintf(stderr, "physioflow monitor: --method '%s': expected detect, verify or both\n", mth); return 2; }
        }
        else if (!strcmp(argv[i], "--verbose")) verbose = 1;
        else if (argv[i][0] == '-') { fprintf(stderr, "physioflow monitor: unknown option '%s'\n", argv[i]); return usage(); }
        else if (nonly < 512) only[nonly++] = argv[i];
    }
    if (!dir) return usage();
    char path[1200];
    snprintf(path, sizeof path, "%s/ALARMS", dir);
    FILE *f = fopen(path, "r");
    if (!f) { fprintf(stderr, "physioflow monitor: %s: cannot open (the challenge's list of alarms)\n", path); return 1; }
    conf rt[PF_ALARM_N] = {{0}}, re[PF_ALARM_N] = {{0}};
    char line[256];
    int lineno = 0, nrec = 0;
    printf("%-8s %-24s %5s %9s %9s\n", "record", "alarm", "truth", "realtime", "retro");
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char rec[64], type[64];
        int truth;
        if (sscanf(line, "%63[^,],%63[^,],%d", rec, type, &truth) != 3 || (truth != 0 && truth != 1)) {
            fprintf(stderr, "physioflow monitor: %s:%d: expected 'record,type,0|1', got '%.60s'\n", path, lineno, line);
            fclose(f);
            return 1;
        }
        int t = challenge_type(type);
        if (!t) { fprintf(stderr, "physioflow monitor: %s:%d: unknown alarm type '%s'\n", path, lineno, type); fclose(f); return 1; }
        if (nonly) {
            int k = 0;
            while (k < nonly && strcmp(only[k], rec)) k++;
            if (k == nonly) continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, rec);
        int a_rt = 0, a_re = 0, ref_rt = 0, ref_re = 0;
        if (method >= 1) {
            if (verbose) printf("%s %s %s, real time:\n", rec, type, truth ? "true" : "false");
            a_rt = verify_record(path, t, win, hist, 300.0, verbose, &ref_rt);
            if (verbose && a_rt >= 0) printf("  retrospective:\n");
            a_re = a_rt < 0 ? -1 : verify_record(path, t, win, hist, 330.0, verbose, &ref_re);
            if (a_rt < 0 || a_re < 0) { fprintf(stderr, "physioflow monitor: %s\n", pf_errmsg()); fclose(f); return 1; }
        }
        if (method != 1) {
            spans sp[PF_ALARM_N];
            if (run_record(path, 330.0, sp, 0)) { fprintf(stderr, "physioflow monitor: %s\n", pf_errmsg()); fclose(f); return 1; }
            pf_record *r = pf_record_open(path, NULL);
            double rfs = r ? pf_record_rate(r) : 250;
            pf_record_close(r);
            int64_t alarm = (int64_t)(300 * rfs), lo = alarm - (int64_t)(win * rfs);
            /* both: raised when either the streaming monitor saw the condition or
             * the verification could not refute it (missing a true alarm costs 5) */
            a_rt |= active_in(&sp[t], lo, alarm);
            a_re |= active_in(&sp[t], lo, alarm + (int64_t)(30 * rfs));
            /* ... unless the verification refuted it conclusively (pf_alarmcheck.h) */
            if (ref_rt) a_rt = 0;
            if (ref_re) a_re = 0;
        }
        conf *c1 = &rt[t], *c2 = &re[t];
        if (truth) { a_rt ? c1->tp++ : c1->fn++; a_re ? c2->tp++ : c2->fn++; }
        else { a_rt ? c1->fp++ : c1->tn++; a_re ? c2->fp++ : c2->tn++; }
        printf("%-8s %-24s %5s %9s %9s\n", rec, type, truth ? "true" : "false", a_rt ? "raised" : "suppr", a_re ? "raised" : "suppr");
        nrec++;
    }
    fclose(f);
    printf("\n%d records, method %s; score = (TP+TN)/(TP+TN+FP+5 FN), window %.0f s before the alarm\n", nrec, method == 0 ? "detect" : method == 1 ? "verify" : "both", win);
    printf("%-12s | %4s %4s %4s %4s %7s | %4s %4s %4s %4s %7s\n", "alarm", "TP", "FP", "TN", "FN", "rt", "TP", "FP", "TN", "FN", "retro");
    conf T1 = {0}, T2 = {0};
    for (int t = PF_ALARM_ASYSTOLE; t <= PF_ALARM_VFIB; t++) {
        conf a = rt[t], b = re[t];
        printf("%-12s | %4d %4d %4d %4d %7.2f | %4d %4d %4d %4d %7.2f\n", pf_alarm_name(t), a.tp, a.fp, a.tn, a.fn, score(a), b.tp, b.fp, b.tn, b.fn, score(b));
        T1.tp += a.tp; T1.fp += a.fp; T1.tn += a.tn; T1.fn += a.fn;
        T2.tp += b.tp; T2.fp += b.fp; T2.tn += b.tn; T2.fn += b.fn;
    }
    printf("%-12s | %4d %4d %4d %4d %7.2f | %4d %4d %4d %4d %7.2f\n", "overall", T1.tp, T1.fp, T1.tn, T1.fn, score(T1), T2.tp, T2.fp, T2.tn, T2.fn, score(T2));
    printf("(best published real-time score: 81.39, Plesinger et al. 2015, on the challenge's hidden test set)\n");
    return 0;
}

static int cmd_replay(int argc, char **argv)
{
    if (argc < 4) return usage();
    double until = 1e9;
    for (int i = 4; i < argc; i++)
        if (!strcmp(argv[i], "--until") && i + 1 < argc) until = atof(argv[++i]);
        else return usage();
    spans sp[PF_ALARM_N];
    if (run_record(argv[3], until, sp, 1)) { fprintf(stderr, "physioflow monitor: %s\n", pf_errmsg()); return 1; }
    return 0;
}

/* --- simulator truth -------------------------------------------------------- */

typedef struct { int bed, alarm; double t0, t1; int hit; double tta; } truth_t;
typedef struct { int bed, type; double t; double lat; int matched; } onset_t;

static int json_int(const char *l, const char *key, long *v)
{
    const char *p = strstr(l, key);
    if (!p) return 0;
    *v = strtol(p + strlen(key), NULL, 10);
    return 1;
}
static int json_num(const char *l, const char *key, double *v)
{
    const char *p = strstr(l, key);
    if (!p) return 0;
    *v = strtod(p + strlen(key), NULL);
    return 1;
}
static int json_str(const char *l, const char *key, char *out, size_t cap)
{
    const char *p = strstr(l, key);
    if (!p) return 0;
    p += strlen(key);
    size_t i = 0;
    while (*p && *p != '"' && i + 1 < cap) out[i++] = *p++;
    out[i] = 0;
    return 1;
}

static int cmp_dbl(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

static int cmd_truth(int argc, char **argv)
{
    const char *tp = NULL, *ep = NULL;
    double tol = 10; /* IEC 60601-2-27: an alarm within 10 s of its condition */
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--truth") && i + 1 < argc) tp = argv[++i];
        else if (!strcmp(argv[i], "--events") && i + 1 < argc) ep = argv[++i];
        else if (!strcmp(argv[i], "--tolerance") && i + 1 < argc) tol = atof(argv[++i]);
        else return usage();
    }
    if (!tp || !ep) return usage();
    FILE *f = fopen(tp, "r");
    if (!f) { fprintf(stderr, "physioflow monitor: %s: cannot open the truth file\n", tp); return 1; }
    truth_t *T = NULL; size_t nt = 0;
    char line[1024];
    int ln = 0;
    while (fgets(line, sizeof line, f)) {
        if (++ln == 1) continue; /* header */
        int bed; char type[32], alarm[32]; double a, b;
        if (sscanf(line, "%d,%31[^,],%31[^,],%lf,%lf", &bed, type, alarm, &a, &b) != 5) {
            fprintf(stderr, "physioflow monitor: %s:%d: expected bed,type,alarm,start_s,end_s\n", tp, ln); fclose(f); free(T); return 1;
        }
        T = realloc(T, sizeof *T * (nt + 1));
        T[nt++] = (truth_t){bed, pf_alarm_parse(alarm), a, b, 0, NAN};
    }
    fclose(f);
    f = fopen(ep, "r");
    if (!f) { fprintf(stderr, "physioflow monitor: %s: cannot open the events file\n", ep); free(T); return 1; }
    onset_t *O = NULL; size_t no = 0;
    ln = 0;
    while (fgets(line, sizeof line, f)) {
        ln++;
        long bed; char type[32], state[16]; double t, lat;
        if (!json_int(line, "\"bed\":", &bed) || !json_str(line, "\"type\":\"", type, sizeof type) || !json_str(line, "\"state\":\"", state, sizeof state) ||
            !json_num(line, "\"t_s\":", &t) || !json_num(line, "\"latency_ms\":", &lat)) {
            fprintf(stderr, "physioflow monitor: %s:%d: not an event line\n", ep, ln); fclose(f); free(T); free(O); return 1;
        }
        if (strcmp(state, "onset")) continue;
        O = realloc(O, sizeof *O * (no + 1));
        O[no++] = (onset_t){(int)bed, pf_alarm_parse(type), t, lat, 0};
    }
    fclose(f);
    for (size_t i = 0; i < nt; i++)
        for (size_t j = 0; j < no; j++)
            if (T[i].alarm && O[j].bed == T[i].bed && O[j].type == T[i].alarm && O[j].t >= T[i].t0 && O[j].t <= T[i].t1 + tol) {
                if (!T[i].hit) { T[i].hit = 1; T[i].tta = O[j].t - T[i].t0; }
                O[j].matched = 1;
            }
    printf("%-12s %6s %6s %8s %6s %8s %8s %10s %10s\n", "alarm", "events", "found", "Se %", "FP", "+P %", "onsets", "TTA med s", "TTA max s");
    for (int a = PF_ALARM_ASYSTOLE; a <= PF_ALARM_POOR_SIGNAL; a++) {
        int ev = 0, hit = 0, fp = 0, on = 0;
        double tta[256]; int ntta = 0;
        for (size_t i = 0; i < nt; i++) if (T[i].alarm == a) { ev++; if (T[i].hit) { hit++; if (ntta < 256) tta[ntta++] = T[i].tta; } }
        for (size_t j = 0; j < no; j++) if (O[j].type == a) { on++; fp += !O[j].matched; }
        if (!ev && !on) continue;
        qsort(tta, (size_t)ntta, sizeof *tta, cmp_dbl);
        /* irregular rhythm and poor signal have no injected counterpart: their onsets are listed, not scored */
        int scored = a != PF_ALARM_IRREGULAR && a != PF_ALARM_POOR_SIGNAL;
        char fps[16] = "-", pps[16] = "-";
        if (scored) { snprintf(fps, sizeof fps, "%d", fp); if (on) snprintf(pps, sizeof pps, "%.1f", 100.0 * (on - fp) / on); }
        printf("%-12s %6d %6d %8.1f %6s %8s %8d %10.1f %10.1f\n", pf_alarm_name(a), ev, hit, ev ? 100.0 * hit / ev : NAN, fps, pps, on,
               ntta ? tta[ntta / 2] : NAN, ntta ? tta[ntta - 1] : NAN);
    }
    free(T); free(O);
    return 0;
}

int pf_cmd_monitor(int argc, char **argv)
{
    if (argc < 3) return usage();
    if (!strcmp(argv[2], "accuracy")) return cmd_accuracy(argc, argv);
    if (!strcmp(argv[2], "replay")) return cmd_replay(argc, argv);
    if (!strcmp(argv[2], "truth")) return cmd_truth(argc, argv);
    return usage();
}
