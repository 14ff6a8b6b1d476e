/* pf_graphstat on status messages built as pf_node sends them: node counters,
 * one curve point per advanced step, NaN gauges skipped, a full curve halved
 * (and a page told to start over), and what is not a status ignored. */
#include "pf_graphstat.h"
#include "pf_node.h"
#include "pf_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pf_msg *status(const char *node, int replica, uint64_t step, double loss, int loss_nan)
{
    char names[256];
    uint32_t dn = (uint32_t)snprintf(names, sizeof names, "%s\nstep,loss_e6,peak_e6", node), dv = PF_CNT_N + 3;
    uint64_t v[PF_CNT_N + 3] = {0};
    v[PF_CNT_MSGS_IN] = 7 * step;
    v[PF_CNT_N] = step;
    v[PF_CNT_N + 1] = loss_nan ? (uint64_t)INT64_MIN : (uint64_t)(int64_t)llround(loss * 1e6);
    v[PF_CNT_N + 2] = (uint64_t)INT64_MIN; /* a term the objective does not use */
    pf_msg *m = pf_msg_create(PF_MSG_CONTROL, "status");
    m->count = (uint64_t)replica;
    pf_msg_add(m, PF_SEC_NAME, PF_DT_U8, 1, &dn, names);
    pf_msg_add(m, PF_SEC_COUNTERS, PF_DT_U64, 1, &dv, v);
    return m;
}

static int take(pf_graphstat *g, pf_msg *m) { int ok = pf_graphstat_take(g, m); pf_msg_destroy(m); return ok; }

int main(void)
{
    pf_graphstat *g = pf_graphstat_create(NULL);
    pf_graphstat_cursor cur = {0};
    CHECK(take(g, status("trainer", 0, 1, 0.75, 0)), "a valid status refused");
    CHECK(take(g, status("trainer", 0, 1, 0.70, 0)), "a repeated step refused");   /* same step: no new point */
    CHECK(take(g, status("trainer", 0, 2, -0.5, 0)), "a negative gauge refused"); /* signed */
    CHECK(take(g, status("trainer", 0, 3, 0, 1)), "a NaN gauge refused");          /* no point */
    char *j = pf_graphstat_json(g, &cur);
    CHECK(j && strstr(j, "\"n\":\"trainer.0\"") && strstr(j, "\"in\":21"), "node counters missing: %s", j ? j : "");
    CHECK(j && strstr(j, "{\"name\":\"trainer.0 loss\",\"reset\":0,\"p\":[[1,0.75],[2,-0.5]]}"), "loss curve wrong: %s", j ? j : "");
    CHECK(j && !strstr(j, "peak\",\"reset"), "a curve for a gauge that was never a number: %s", j ? j : "");
    CHECK(j && strstr(j, "\"peak\":null"), "the NaN gauge not shown as null: %s", j ? j : "");
    free(j);
    /* the cursor: nothing new, nothing sent */
    j = pf_graphstat_json(g, &cur);
    CHECK(j && strstr(j, "\"curves\":[]"), "points sent twice: %s", j ? j : "");
    free(j);
    /* fill past the cap: halved, and the page told to start over */
    for (uint64_t s = 4; s < 4 + PF_GRAPHSTAT_POINTS; s++) take(g, status("trainer", 0, s, 1.0 + 1e-3 * (double)s, 0)); /* all distinct */
    j = pf_graphstat_json(g, &cur);
    CHECK(j && strstr(j, "\"reset\":1,\"p\":[[1,0.75],"), "a full curve not restarted from its first point: %.120s", j ? strstr(j, "curves") : "");
    size_t pts = 0;
    for (const char *q = j ? strstr(j, "\"p\":[") : NULL; q && (q = strstr(q + 1, "],[")); ) pts++;
    CHECK(pts + 1 > PF_GRAPHSTAT_POINTS / 2 && pts + 1 <= PF_GRAPHSTAT_POINTS / 2 + 2, "%zu points after halving %d", pts + 1, PF_GRAPHSTAT_POINTS);
    free(j);
    /* not statuses */
    pf_msg *m = pf_msg_create(PF_MSG_CONTROL, "stop");
    CHECK(!take(g, m), "a CONTROL 'stop' taken as a status");
    m = pf_msg_create(PF_MSG_CONTROL, "status");
    CHECK(!take(g, m), "a status without sections taken");
    CHECK(pf_graphstat_count(g) == 4 + PF_GRAPHSTAT_POINTS, "%llu statuses counted", (unsigned long long)pf_graphstat_count(g));
    pf_graphstat_destroy(g);
    return pf_test_done();
}
