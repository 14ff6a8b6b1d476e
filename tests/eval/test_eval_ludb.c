/* Delineation on LUDB (records 1-100 of the shared copy, 12 leads, 500 Hz):
 * per boundary Se, PPV, mean and SD of detection - annotation (ms) against
 * each lead's manual annotation and against the beat's consensus over the
 * leads (median of the leads' annotations). Prints the targets (QRS
 * |mean| <= 5 ms, SD <= 10 ms; P and T SD <= 20 ms) as met / not met for
 * both, and fails on regression below the levels reached when this test was
 * written. Also writes the
 * boundaries as WFDB annotations (LUDB convention) for one record and checks
 * the files exist. Skips (77) when $PF_SHARED_DATA is absent. */
#include "../pf_test.h"
#include "pf_error.h"
#include "pf_eval_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define stats pf_delin_stats_get

int main(void)
{
    const char *shared = getenv("PF_SHARED_DATA");
    char dir[1024], probe[1200];
    struct stat sb;
    snprintf(dir, sizeof dir, "%s/ludb/data", shared ? shared : "");
    snprintf(probe, sizeof probe, "%s/1.hea", dir);
    if (!shared || stat(probe, &sb) != 0) {
        printf("SKIP: %s not found (PF_SHARED_DATA=%s); the LUDB delineation test needs "
               "../shared/data\n", probe, shared ? shared : "(unset)");
        return 77;
    }
    static char names[100][8];
    const char *recs[100];
    size_t n = 0;
    for (int i = 1; i <= 100; i++) {
        snprintf(probe, sizeof probe, "%s/%d.hea", dir, i);
        if (stat(probe, &sb) != 0) continue;
        snprintf(names[n], sizeof names[n], "%d", i);
        recs[n] = names[n];
        n++;
    }
    pf_eval_run_opts o;
    pf_eval_run_opts_default(&o);
    o.data_dir = dir;
    pf_delin_stats st, cons;
    o.out = fopen("/dev/null", "w");
    printf("LUDB, %zu records x 12 leads (QRS bounds from all leads jointly, P/T from the lead median):\n", n);
    int rc = pf_eval_delineation_run(&o, NULL, recs, n, &st, &cons);
    fclose(o.out);
    o.out = NULL;
    if (rc) {
        fprintf(stderr, "FAIL: %s\n", pf_errmsg());
        return 1;
    }
    struct gate { int k; const char *name; double tmean, tsd, gmean, gsd, gse, gsdin; };
    /* targets from the issue; gates = regression limits around what was
     * reached (pooled SD, and the SD within each signal averaged over
     * signals, the QT-database protocol, which must meet the target) */
    const struct gate per_lead[] = {
        {PF_DB_QRS_ON, "QRS on", 5, 10, 5, 12, 99, 7},
        {PF_DB_QRS_OFF, "QRS off", 5, 10, 5, 13, 99, 7.5},
        {PF_DB_P_ON, "P on", 1e9, 20, 8, 21.5, 95, 14},
        {PF_DB_P_OFF, "P off", 1e9, 20, 8, 19.5, 95, 12},
        {PF_DB_T_ON, "T on", 1e9, 20, 8, 33, 95, 19},
        {PF_DB_T_OFF, "T off", 1e9, 20, 8, 25, 95, 14},
    }, consensus[] = {
        {PF_DB_QRS_ON, "QRS on", 5, 10, 5, 8.5, 99, 5},
        {PF_DB_QRS_OFF, "QRS off", 5, 10, 5, 9.5, 99, 5},
        {PF_DB_P_ON, "P on", 1e9, 20, 8, 16, 95, 10},
        {PF_DB_P_OFF, "P off", 1e9, 20, 8, 13, 95, 8},
        {PF_DB_T_ON, "T on", 1e9, 20, 8, 20, 95, 13},
        {PF_DB_T_OFF, "T off", 1e9, 20, 8, 13, 95, 8},
    };
    for (int table = 0; table < 2; table++) {
        const struct gate *g = table ? consensus : per_lead;
        const pf_delin_stats *s = table ? &cons : &st;
        printf("%s:\n", table ? "against the beat's consensus over the leads" : "against each lead's own annotation");
        for (size_t i = 0; i < 6; i++) {
            double se, ppv, mean, sd;
            stats(s, g[i].k, &se, &ppv, &mean, &sd);
            double sdin = pf_delin_stats_sd_in(s, g[i].k);
            int met = fabs(mean) <= g[i].tmean && sd <= g[i].tsd, met_in = fabs(mean) <= g[i].tmean && sdin <= g[i].tsd;
            printf("  %-8s Se %6.2f%%  mean %6.2f ms  SD %6.2f ms (in rec %5.2f)  target%s SD <= %g ms: %s (in rec: %s)\n",
                   g[i].name, se, mean, sd, sdin, g[i].tmean < 1e9 ? " |mean| <= 5 ms," : "", g[i].tsd,
                   met ? "met" : "NOT met", met_in ? "met" : "NOT met");
            if (fabs(mean) > g[i].gmean || sd > g[i].gsd || se < g[i].gse || sdin > g[i].gsdin || !met_in) {
                fprintf(stderr, "FAIL: %s (%s) regressed: Se %.2f mean %.2f SD %.2f in rec %.2f (gates Se >= %g, |mean| <= %g, SD <= %g, in rec <= %g)\n",
                        g[i].name, table ? "consensus" : "per lead", se, mean, sd, sdin, g[i].gse, g[i].gmean, g[i].gsd,
                        g[i].gsdin);
                pf_test_fail++;
            }
        }
    }
    /* annotation output for one record */
    char tmpl[] = "/tmp/pf_ludb_ann_XXXXXX";
    char *tmp = mkdtemp(tmpl);
    if (!tmp) { perror("mkdtemp"); return 1; }
    o.ann_out = tmp;
    o.out = fopen("/dev/null", "w");
    const char *one[] = {recs[0]};
    if (pf_eval_delineation_run(&o, NULL, one, 1, &st, &cons)) {
        fprintf(stderr, "FAIL: annotation output: %s\n", pf_errmsg());
        pf_test_fail++;
    }
    fclose(o.out);
    const char *leads[] = {"i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6"};
    for (int l = 0; l < 12; l++) {
        snprintf(probe, sizeof probe, "%s/%s.%s", tmp, recs[0], leads[l]);
        if (stat(probe, &sb) != 0 || sb.st_size < 20) {
            fprintf(stderr, "FAIL: %s missing or empty\n", probe);
            pf_test_fail++;
        }
    }
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return pf_test_done();
}
