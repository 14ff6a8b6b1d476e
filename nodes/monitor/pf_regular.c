/* pf_regular: regular activity of a beat sequence (pf_regular.h). */
#include "pf_regular.h"

#include <math.h>

/* Plesinger et al. 2015; values as in Li, Johnson & Mark 2017 (parameters.py:
 * RR_STDEV, HR_MIN, HR_MAX, MIN_NUM_RR_INTERVALS, RR_MIN_SUM_DIFF). */
#define RR_SD_MAX_S 0.025
#define HR_LO 45.0
#define HR_HI 135.0
#define MIN_INTERVALS 3
#define COVER_SLACK_S 2.0

int pf_regular_window(const long *bt, long nb, long lo, long hi, double fs)
{
    if (hi <= lo || !(fs > 0)) return 0;
    long k = 0, prev = -1;
    double s1 = 0, s2 = 0;
    for (long i = 0; i < nb; i++) {
        if (bt[i] < lo || bt[i] >= hi) continue;
        if (prev >= 0) { double d = (double)(bt[i] - prev) / fs; s1 += d; s2 += d * d; }
        prev = bt[i];
        k++;
    }
    long ni = k - 1;
    double dur = (double)(hi - lo) / fs;
    if (ni < MIN_INTERVALS) return 0;
    double mean = s1 / (double)ni, sd = sqrt(fmax(0, s2 / (double)ni - mean * mean));
    double hr = 60.0 * (double)k / dur;
    return sd <= RR_SD_MAX_S && hr >= HR_LO && hr <= HR_HI && s1 >= dur - COVER_SLACK_S;
}

int pf_regular_span(const long *bt, long nb, long lo, long hi, double fs)
{
    long w = (long)lround(PF_REGULAR_WIN_S * fs), step = (long)lround(fs);
    if (hi - lo <= w) return pf_regular_window(bt, nb, lo, hi, fs);
    for (long a = lo;; a += step) {
        if (a + w > hi) a = hi - w;
        if (!pf_regular_window(bt, nb, a, a + w, fs)) return 0;
        if (a + w >= hi) return 1;
    }
}
