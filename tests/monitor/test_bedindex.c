/* pf_bedindex: beds get dense slots in the order they first appear, keep them, are not
 * created by a lookup without create, and no more than max beds get one. */
#include "pf_bedindex.h"
#include "pf_test.h"

#include <stdlib.h>

int main(void)
{
    enum { N = 50000 };
    pf_bedindex *x = pf_bedindex_create(N);
    CHECK(x != NULL, "create");
    CHECK(pf_bedindex_find(x, 7, 0) == -1, "an unseen bed has no slot");
    CHECK(pf_bedindex_count(x) == 0, "a lookup creates nothing");
    /* scattered numbers, 0 and the largest included */
    uint32_t *ids = malloc(sizeof *ids * N);
    for (uint32_t i = 0; i < N; i++) ids[i] = i == 0 ? 0 : i == 1 ? UINT32_MAX : i * 2654435761u ^ (i >> 3);
    for (long i = 0; i < N; i++) {
        long s = pf_bedindex_find(x, ids[i], 1);
        if (s != i) { CHECK(s == i, "bed %u got slot %ld, not %ld", ids[i], s, i); break; }
    }
    CHECK(pf_bedindex_count(x) == N, "%zu slots", pf_bedindex_count(x));
    int ok = 1;
    for (long i = N - 1; i >= 0; i--) ok &= pf_bedindex_find(x, ids[i], 0) == i && pf_bedindex_find(x, ids[i], 1) == i;
    CHECK(ok, "every bed keeps its slot, with or without create");
    uint32_t fresh = 1;
    while (pf_bedindex_find(x, fresh, 0) >= 0) fresh += 2;
    CHECK(pf_bedindex_find(x, fresh, 1) == -1, "bed %u refused: max beds have slots", fresh);
    CHECK(pf_bedindex_count(x) == N, "no more than max beds get a slot");
    free(ids);
    pf_bedindex_destroy(x);
    return pf_test_done();
}
