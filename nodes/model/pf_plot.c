#include "pf_plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "pf_error.h"

/* The curves, by CSV column name: one panel each when any row has a value. */
static const struct { const char *col, *title; } panels[] = {
    {"loss", "total loss"},
    {"loss_masked", "masked reconstruction (MSE)"},
    {"loss_contrastive", "feature-guided contrastive"},
    {"loss_global", "global reconstruction (MSE)"},
    {"loss_peak", "peak-aware reconstruction (MSE)"},
    {"rank_acc", "ranking accuracy (positives above all negatives)"},
};
enum { N_PANELS = sizeof panels / sizeof panels[0] };

int pf_plot_metrics(const char *csv, const char *png, const char *title)
{
    FILE *f = fopen(csv, "r");
    if (!f) return pf_err(PF_EIO, "plot: cannot read %s: %s", csv, strerror(errno));
    char line[4096];
    int col[N_PANELS], has[N_PANELS] = {0}, split_col = -1, rows = 0, ncol = 0;
    for (int k = 0; k < N_PANELS; k++) col[k] = -1;
    if (!fgets(line, sizeof line, f)) { fclose(f); return pf_err(PF_EFORMAT, "plot: %s is empty", csv); }
    line[strcspn(line, "\r\n")] = 0;
    for (char *tok = line, *next; tok; tok = next, ncol++) {
        next = strchr(tok, ',');
        if (next) *next++ = 0;
        if (!strcmp(tok, "split")) split_col = ncol;
        for (int k = 0; k < N_PANELS; k++)
            if (!strcmp(tok, panels[k].col)) col[k] = ncol;
    }
    if (split_col < 0 || col[0] < 0) { fclose(f); return pf_err(PF_EFORMAT, "plot: %s is not a trainer metrics file (no 'split' and 'loss' columns)", csv); }
    while (fgets(line, sizeof line, f)) {
        rows++;
        int c = 0;
        for (char *tok = line, *next; tok; tok = next, c++) {
            next = strchr(tok, ',');
            if (next) *next++ = 0;
            for (int k = 0; k < N_PANELS; k++)
                if (c == col[k] && tok[0] && tok[0] != '\n') has[k] = 1;
        }
    }
    fclose(f);
    if (!rows) return pf_err(PF_EFORMAT, "plot: %s has no rows yet", csv);
    int np = 0;
    for (int k = 0; k < N_PANELS; k++) np += has[k];
    FILE *g = popen("gnuplot", "w");
    if (!g) return pf_err(PF_EIO, "plot: cannot run gnuplot: %s (install gnuplot-nox)", strerror(errno));
    int prow = (np + 1) / 2;
    fprintf(g, "set terminal pngcairo size 1200,%d font ',10'\nset output '%s'\n", 80 + 300 * prow, png);
    fprintf(g, "set datafile separator ','\nset datafile missing ''\nset key top right\nset grid\n");
    fprintf(g, "set multiplot layout %d,2 title '%s'\n", prow, title ? title : csv);
    for (int k = 0; k < N_PANELS; k++) {
        if (!has[k]) continue;
        int c = col[k] + 1, sp = split_col + 1;
        fprintf(g, "set title '%s'\nset xlabel 'step'\n", panels[k].title);
        fprintf(g, "plot '%s' every ::1 using 1:(strcol(%d) eq 'train' ? column(%d) : NaN) with lines lw 1.5 title 'training', "
                   "'' every ::1 using 1:(strcol(%d) eq 'val' ? column(%d) : NaN) with linespoints pt 7 ps 0.8 lw 2 title 'validation'\n",
                csv, sp, c, sp, c);
    }
    fprintf(g, "unset multiplot\n");
    int st = pclose(g);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st))
        return pf_err(PF_EIO, "plot: gnuplot failed drawing %s into %s (exit %d; is gnuplot-nox installed?)", csv, png,
                      st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return PF_OK;
}
