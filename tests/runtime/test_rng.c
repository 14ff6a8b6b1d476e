/* Deterministic RNG: same key, same stream; keys differ in every input;
 * uniform, bounded and normal draws have the right statistics. */
#include "../pf_test.h"
#include "pf_rng.h"

#include <math.h>

int main(void)
{
    pf_rng a, b;
    pf_rng_seed(&a, pf_rng_key(42, 1, 7, 0));
    pf_rng_seed(&b, pf_rng_key(42, 1, 7, 0));
    int same = 1;
    for (int i = 0; i < 1000; i++) same &= pf_rng_u64(&a) == pf_rng_u64(&b);
    CHECK(same, "same key gives the same stream");
    uint64_t k = pf_rng_key(42, 1, 7, 0);
    CHECK(k != pf_rng_key(43, 1, 7, 0) && k != pf_rng_key(42, 2, 7, 0) && k != pf_rng_key(42, 1, 8, 0) && k != pf_rng_key(42, 1, 7, 1), "every input changes the key");
    CHECK(pf_rng_key(1, 2, 0, 0) != pf_rng_key(2, 1, 0, 0), "order matters");

    pf_rng_seed(&a, 99);
    enum { N = 200000 };
    double s = 0, s2 = 0;
    int counts[10] = {0};
    for (int i = 0; i < N; i++) {
        double u = pf_rng_uniform(&a);
        CHECK(u >= 0 && u < 1, "uniform %g out of [0,1)", u);
        counts[pf_rng_below(&a, 10)]++;
        double z = pf_rng_normal(&a);
        s += z;
        s2 += z * z;
    }
    double mean = s / N, var = s2 / N - mean * mean;
    CHECK(fabs(mean) < 0.01, "normal mean %g", mean);          /* 4.5 sigma bound */
    CHECK(fabs(var - 1) < 0.015, "normal variance %g", var);
    for (int i = 0; i < 10; i++) CHECK(abs(counts[i] - N / 10) < 600, "bucket %d has %d of %d", i, counts[i], N);
    CHECK(pf_hash_str("mitdb/100") != pf_hash_str("mitdb/101"), "string hash");
    return pf_test_done();
}
