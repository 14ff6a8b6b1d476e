/* Bedside protocol: round trip, and every malformed frame rejected with a message. */
#include "pf_bedside.h"
#include "pf_error.h"
#include "pf_test.h"

#include <math.h>
#include <string.h>

int main(void)
{
    int16_t s[3 * 4];
    for (int i = 0; i < 12; i++) s[i] = (int16_t)(i * 100 - 500);
    s[5] = PF_BS_INVALID;
    pf_bs_msg m = {.type = PF_BS_DATA, .bed = 17, .session = 9, .seq = 42, .t_us = 1700000000123456, .sample = 1000, .fs = 500,
                   .n_leads = 3, .n_samples = 4, .gain = 1000, .lead_off = 2, .samples = s};
    unsigned char buf[512];
    int len = pf_bs_encode(&m, buf, sizeof buf);
    CHECK(len == PF_BS_HEADER + 24, "encoded %d bytes", len);
    pf_bs_msg d;
    CHECK(pf_bs_decode(buf, (size_t)len, &d) == PF_OK, "%s", pf_errmsg());
    CHECK(d.bed == 17 && d.session == 9 && d.seq == 42 && d.t_us == 1700000000123456 && d.sample == 1000, "header fields");
    CHECK(d.fs == 500 && d.n_leads == 3 && d.n_samples == 4 && d.gain == 1000 && d.lead_off == 2, "format fields");
    CHECK(!memcmp(d.samples, s, sizeof s), "samples");
    CHECK(pf_bs_quantise(NAN, 1000) == PF_BS_INVALID && pf_bs_quantise(100, 1000) == 32767 && pf_bs_quantise(-100, 1000) == -32767, "quantise clips");
    CHECK(pf_bs_quantise(0.0014f, 1000) == 1, "quantise rounds");

    /* malformed frames */
    CHECK(pf_bs_decode(buf, 10, &d) == PF_EFORMAT && strstr(pf_errmsg(), "shorter"), "%s", pf_errmsg());
    CHECK(pf_bs_decode(buf, (size_t)len - 1, &d) == PF_EFORMAT && strstr(pf_errmsg(), "bed 17"), "%s", pf_errmsg());
    unsigned char bad[512];
    memcpy(bad, buf, (size_t)len); bad[0] ^= 1;
    CHECK(pf_bs_decode(bad, (size_t)len, &d) == PF_EFORMAT && strstr(pf_errmsg(), "magic"), "%s", pf_errmsg());
    memcpy(bad, buf, (size_t)len); bad[4] = 2;
    CHECK(pf_bs_decode(bad, (size_t)len, &d) == PF_EFORMAT && strstr(pf_errmsg(), "version"), "%s", pf_errmsg());
    memcpy(bad, buf, (size_t)len); bad[6] = 9;
    CHECK(pf_bs_decode(bad, (size_t)len, &d) == PF_EFORMAT && strstr(pf_errmsg(), "type"), "%s", pf_errmsg());
    pf_bs_msg z = m;
    z.session = 0;
    pf_bs_encode(&z, bad, sizeof bad);
    CHECK(pf_bs_decode(bad, (size_t)len, &d) == PF_EFORMAT && strstr(pf_errmsg(), "session"), "%s", pf_errmsg());
    z = m; z.fs = -1; pf_bs_encode(&z, bad, sizeof bad);
    CHECK(pf_bs_decode(bad, (size_t)len, &d) == PF_EFORMAT && strstr(pf_errmsg(), "sample rate"), "%s", pf_errmsg());
    z = m; z.gain = 0; pf_bs_encode(&z, bad, sizeof bad);
    CHECK(pf_bs_decode(bad, (size_t)len, &d) == PF_EFORMAT && strstr(pf_errmsg(), "gain"), "%s", pf_errmsg());
    z = m; z.n_leads = 0; pf_bs_encode(&z, bad, sizeof bad);
    CHECK(pf_bs_decode(bad, PF_BS_HEADER, &d) == PF_EFORMAT && strstr(pf_errmsg(), "leads"), "%s", pf_errmsg());
    CHECK(pf_bs_encode(&m, buf, 20) == PF_ERANGE, "encode into a short buffer");

    /* heartbeat and INFO */
    pf_bs_msg h = {.type = PF_BS_HEARTBEAT, .bed = 3, .session = 1, .seq = 7};
    len = pf_bs_encode(&h, buf, sizeof buf);
    CHECK(len == PF_BS_HEADER && pf_bs_decode(buf, (size_t)len, &d) == PF_OK && d.type == PF_BS_HEARTBEAT, "heartbeat");
    CHECK(pf_bs_decode(buf, (size_t)len + 2, &d) == PF_EFORMAT, "heartbeat with a payload");
    pf_bs_msg in = {.type = PF_BS_INFO, .bed = 3, .session = 1, .seq = 8, .info = "II,V,PLETH", .info_len = 10};
    len = pf_bs_encode(&in, buf, sizeof buf);
    CHECK(pf_bs_decode(buf, (size_t)len, &d) == PF_OK && d.info_len == 10 && !memcmp(d.info, "II,V,PLETH", 10), "info");
    buf[PF_BS_HEADER + 2] = 0;
    CHECK(pf_bs_decode(buf, (size_t)len, &d) == PF_EFORMAT && strstr(pf_errmsg(), "NUL"), "%s", pf_errmsg());
    return pf_test_done();
}
