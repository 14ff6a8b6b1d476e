/* Features on LUDB records: the vector computed with the project's
 * delineator against the vector computed from the cardiologists' manual
 * boundaries (LUDB's lead II annotations) on the same cleaned trace and the
 * same R-peaks. Skips without ../shared/data. */
#include "../pf_test.h"
#include "pf_ann.h"
#include "pf_error.h"
#include "pf_features.h"
#include "pf_record.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Beats from LUDB's "(", p/N/t, ")" triples. */
static int manual_beats(const pf_ann_list *l, pf_delin_beat *b, int cap)
{
    int nb = 0;
    for (size_t i = 0; i < l->n && nb < cap; i++) {
        if (strcmp(pf_ann_mnemonic(l->a[i].code), "N")) continue;
        if (i == 0 || i + 1 >= l->n || strcmp(pf_ann_mnemonic(l->a[i - 1].code), "(") || strcmp(pf_ann_mnemonic(l->a[i + 1].code), ")")) continue;
        pf_delin_beat x = {.p_on = -1, .p_peak = -1, .p_off = -1, .t_on = -1, .t_peak = -1, .t_off = -1};
        x.qrs_on = (long)l->a[i - 1].time;
        x.r = (long)l->a[i].time;
        x.qrs_off = (long)l->a[i + 1].time;
        /* the P wave just before this QRS, the T wave just after */
        if (i >= 4 && !strcmp(pf_ann_mnemonic(l->a[i - 3].code), "p") && !strcmp(pf_ann_mnemonic(l->a[i - 4].code), "(")
            && !strcmp(pf_ann_mnemonic(l->a[i - 2].code), ")")) {
            x.p_on = (long)l->a[i - 4].time; x.p_peak = (long)l->a[i - 3].time; x.p_off = (long)l->a[i - 2].time;
        }
        if (i + 4 < l->n && !strcmp(pf_ann_mnemonic(l->a[i + 3].code), "t") && !strcmp(pf_ann_mnemonic(l->a[i + 2].code), "(")
            && !strcmp(pf_ann_mnemonic(l->a[i + 4].code), ")")) {
            x.t_on = (long)l->a[i + 2].time; x.t_peak = (long)l->a[i + 3].time; x.t_off = (long)l->a[i + 4].time;
        }
        b[nb++] = x;
    }
    return nb;
}

int main(void)
{
    const char *data = getenv("PF_SHARED_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/ludb/data/1.hea", data ? data : "");
    FILE *probe = fopen(path, "r");
    if (!probe) SKIP_TEST("shared data not found at '%s' (needs ludb)", data ? data : "");
    fclose(probe);
    enum { T = 5000, C = 12, NREC = 12 };
    /* |auto - manual| of the aggregate means, ms, over the records */
    const int idx[5] = {108, 104, 112, 116, 120};
    const char *names[5] = {"QRS", "PR", "QTc", "P dur", "T dur"};
    /* per-record agreement bounds from the delineator's own LUDB accuracy: boundary SD
     * 12-13 ms (QRS), 22 ms (P), 26-35 ms (T); a duration spans two boundaries */
    const double tol[5] = {20, 25, 40, 30, 60};
    double sum[5] = {0};
    int cnt[5] = {0}, within[5] = {0};
    static float x[C * T];
    double *clean = malloc(sizeof(double) * T);
    pf_delin_beat beats[64];
    float man[PF_FEAT_DIM], aut[PF_FEAT_DIM];
    pf_features *fe = pf_features_create(500, 1); /* lead II, the annotated one */
    int records = 0, p_agree = 0;
    for (int rec = 1; rec <= NREC; rec++) {
        snprintf(path, sizeof path, "%s/ludb/data/%d", data, rec);
        pf_record *r = pf_record_open(path, NULL);
        if (!r) { CHECK(0, "open %s: %s", path, pf_errmsg()); continue; }
        int n = (int)(pf_record_length(r) < T ? pf_record_length(r) : T);
        pf_record_read(r, 0, n, NULL, C, x);
        pf_record_close(r);
        char apath[1100];
        snprintf(apath, sizeof apath, "%s/ludb/data/%d.ii", data, rec);
        pf_ann_list l = {0};
        if (pf_ann_read(apath, &l)) { CHECK(0, "read %s: %s", apath, pf_errmsg()); continue; }
        int nb = manual_beats(&l, beats, 64);
        pf_ann_list_free(&l);
        if (nb < 3) continue;
        pf_features_trace(fe, x, C, n, clean);
        pf_features_from_beats(clean, n, 500, beats, nb, man);
        int64_t peaks[64];
        for (int i = 0; i < nb; i++) peaks[i] = beats[i].r;
        CHECK(pf_features_compute(fe, x, C, n, peaks, nb, aut) == 0, "compute %d", rec);
        if (getenv("PF_VERBOSE"))
            printf("record %2d: QRS %5.1f / %5.1f  PR %5.1f / %5.1f  QTc %5.1f / %5.1f  P %5.1f / %5.1f  T %5.1f / %5.1f (auto / manual)\n", rec,
                   aut[108], man[108], aut[104], man[104], aut[112], man[112], aut[116], man[116], aut[120], man[120]);
        CHECK(fabsf(aut[100] - man[100]) < 1e-3f, "record %d: same R-peaks, same RR (%g vs %g)", rec, aut[100], man[100]);
        for (int k = 0; k < 5; k++) {
            if (man[idx[k]] == 0 || aut[idx[k]] == 0) continue; /* wave absent in one of them: compared below */
            double d = aut[idx[k]] - man[idx[k]];
            sum[k] += fabs(d);
            cnt[k]++;
            within[k] += fabs(d) <= tol[k];
        }
        /* absent P waves (e.g. atrial fibrillation): the delineator reports P waves
         * where none are annotated (P PPV 82.6 % on LUDB), so this is counted, not required */
        if (fabsf(aut[152] - man[152]) <= 50) p_agree++;
        else printf("record %d: %% absent P %.0f, manual %.0f (known weakness: P waves reported where none are annotated)\n", rec, aut[152], man[152]);
        records++;
    }
    printf("LUDB records 1-%d, lead II: mean |auto - manual| of the per-record means (ms):\n", NREC);
    for (int k = 0; k < 5; k++) {
        printf("  %-6s %6.1f over %d records, %d within %.0f ms\n", names[k], cnt[k] ? sum[k] / cnt[k] : 0, cnt[k], within[k], tol[k]);
        CHECK(cnt[k] >= records / 2, "%s compared on %d of %d records", names[k], cnt[k], records);
        CHECK(within[k] >= 0.75 * cnt[k], "%s: %d of %d records within %.0f ms of the manual value", names[k], within[k], cnt[k], tol[k]);
    }
    CHECK(records >= 10, "%d records compared", records);
    CHECK(p_agree >= records - 2, "absent-P share agrees on %d of %d records", p_agree, records);
    pf_features_destroy(fe);
    free(clean);
    return pf_test_done();
}
