#include "pf_guard.h"

#include "pf_error.h"

#include <math.h>

/* BEATS rows are absolute sample indices of boundaries inside their window
 * (-1 = absent): nodes index the window's samples with them. */
static int check_beats(const pf_msg *m, const pf_section *s)
{
    if (s->dtype != PF_DT_I64 || s->ndim != 2 || s->dims[1] != 9)
        return pf_err(PF_EFORMAT, "window '%s' #%llu: BEATS must be i64 [beats, 9]", m->id, (unsigned long long)m->window_index);
    const int64_t *v = s->data;
    int64_t a = m->start_sample, b = m->start_sample + (int64_t)m->n_samples;
    for (size_t i = 0; i < (size_t)s->dims[0] * 9; i++)
        if (v[i] != -1 && (v[i] < a || v[i] >= b))
            return pf_err(PF_EFORMAT, "window '%s' #%llu: BEATS row %zu column %zu = %lld lies outside the window [%lld, %lld)", m->id,
                          (unsigned long long)m->window_index, i / 9, i % 9, (long long)v[i], (long long)a, (long long)b);
    return PF_OK;
}

/* R-peak lists are absolute and may reach past the window (the rpeak node
 * keeps peaks near the edges), but never so far that window-relative
 * arithmetic overflows. */
#define ABS_LIMIT ((int64_t)1 << 62)
static int check_abs(const pf_msg *m, const pf_section *s, const char *name)
{
    if (s->dtype != PF_DT_I64) return PF_OK; /* types are pf_wire_validate's */
    const int64_t *v = s->data;
    size_t n = s->bytes / sizeof(int64_t);
    for (size_t i = 0; i < n; i++)
        if (v[i] < -ABS_LIMIT || v[i] > ABS_LIMIT)
            return pf_err(PF_EFORMAT, "window '%s' #%llu: %s[%zu] = %lld is out of range (|x| <= 2^62)", m->id,
                          (unsigned long long)m->window_index, name, i, (long long)v[i]);
    return PF_OK;
}

int pf_guard_window(const pf_msg *m, const char **reason)
{
    *reason = NULL;
    if (m->kind != PF_MSG_WINDOW) return PF_OK;
    /* nodes size buffers and filters from the rate: bound it to what a sensor can be */
    if (!(m->sample_rate >= 1e-3 && m->sample_rate <= 1e6)) {
        *reason = "bad_rate";
        return pf_err(PF_EFORMAT, "window '%s' #%llu: sample rate %g Hz is outside [0.001, 10^6]", m->id,
                      (unsigned long long)m->window_index, m->sample_rate);
    }
    /* start + n must not overflow: nodes compute window ends from it */
    if (m->start_sample < -ABS_LIMIT || m->start_sample > ABS_LIMIT) {
        *reason = "bad_start";
        return pf_err(PF_EFORMAT, "window '%s' #%llu: start_sample %lld out of range", m->id, (unsigned long long)m->window_index,
                      (long long)m->start_sample);
    }
    for (int i = 0; i < m->n_sections; i++) {
        const pf_section *s = &m->sec[i];
        if ((s->type == PF_SEC_RPEAKS && check_abs(m, s, "RPEAKS")) || (s->type == PF_SEC_ADJ_RPEAKS && check_abs(m, s, "ADJ_RPEAKS")) ||
            (s->type == PF_SEC_RPEAKS_AUG && check_abs(m, s, "RPEAKS_AUG")) || (s->type == PF_SEC_ANN && check_abs(m, s, "ANN"))) {
            *reason = "bad_rpeaks";
            return PF_EFORMAT;
        }
        if (s->type == PF_SEC_BEATS && check_beats(m, s)) {
            *reason = "bad_beats";
            return PF_EFORMAT;
        }
    }
    return PF_OK;
}
