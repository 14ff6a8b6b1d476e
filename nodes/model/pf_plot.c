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
    {"rank_acc", "ranking accuracy (positives above all negatives of their anchor)"},
    {"accuracy", "classification accuracy"},
    {"macro_f1", "macro-F1"},
};
enum { N_PANELS = sizeof panels / sizeof panels[0] };

/* One CSV field (fields are plain: the trainer writes no quotes). */
static const char *field(const char *line, int k, size_t *len)
{
    for (int i = 0; i < k && line; i++) {
        line = strchr(line, ',');
        if (line) line++;
    }
    if (!line) { *len = 0; return ""; }
    *len = strcspn(line, ",\r\n");
    return line;
}

/* s in a gnuplot single-quoted string: a quote is written twice */
static void put_quoted(FILE *g, const char *s)
{
    fputc('\'', g);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', g);
        if (*s != '\n') fputc(*s, g);
    }
    fputc('\'', g);
}

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
    /* the training and validation rows as two gnuplot data blocks: step, then each panel's
     * value or NaN (so that each curve is one unbroken line) */
    char *blk[2] = {NULL, NULL};
    size_t blen[2] = {0, 0};
    FILE *b[2] = {open_memstream(&blk[0], &blen[0]), open_memstream(&blk[1], &blen[1])};
    if (!b[0] || !b[1]) { fclose(f); if (b[0]) fclose(b[0]); if (b[1]) fclose(b[1]); free(blk[0]); free(blk[1]); return pf_err(PF_ENOMEM, "plot: out of memory"); }
    while (fgets(line, sizeof line, f)) {
        size_t l;
        const char *sp = field(line, split_col, &l);
        int which = l == 3 && !strncmp(sp, "val", 3) ? 1 : l == 5 && !strncmp(sp, "train", 5) ? 0 : -1;
        if (which < 0) continue;
        rows++;
        const char *st = field(line, 0, &l);
        fprintf(b[which], "%.*s", (int)l, st);
        for (int k = 0; k < N_PANELS; k++) {
            const char *v = col[k] >= 0 ? field(line, col[k], &l) : "";
            if (col[k] >= 0 && l) { has[k] = 1; fprintf(b[which], " %.*s", (int)l, v); }
            else fprintf(b[which], " NaN");
        }
        fputc('\n', b[which]);
    }
    fclose(f);
    fclose(b[0]);
    fclose(b[1]);
    if (!rows) { free(blk[0]); free(blk[1]); return pf_err(PF_EFORMAT, "plot: %s has no rows yet", csv); }
    int np = 0;
    for (int k = 0; k < N_PANELS; k++) np += has[k];
    FILE *g = popen("gnuplot", "w");
    if (!g) { free(blk[0]); free(blk[1]); return pf_err(PF_EIO, "plot: cannot run gnuplot: %s (install gnuplot-nox)", strerror(errno)); }
    int prow = (np + 1) / 2;
    fprintf(g, "$train << EOD\n%sEOD\n$val << EOD\n%sEOD\n", blk[0], blk[1]);
    free(blk[0]);
    free(blk[1]);
    fprintf(g, "set terminal pngcairo size 1200,%d font ',10'\nset output ", 80 + 300 * prow);
    put_quoted(g, png);
    fprintf(g, "\nset datafile missing 'NaN'\nset key top right\nset grid\nset xlabel 'step'\n");
    fprintf(g, "set multiplot layout %d,2 title ", prow);
    put_quoted(g, title ? title : csv);
    fputc('\n', g);
    for (int k = 0, c = 2; k < N_PANELS; k++, c++) {
        if (!has[k]) continue;
        fprintf(g, "set title '%s'\n", panels[k].title);
        fprintf(g, "plot $train using 1:%d with lines lw 1.5 title 'training', $val using 1:%d with linespoints pt 7 ps 0.8 lw 2 title 'validation'\n", c, c);
    }
    fprintf(g, "unset multiplot\n");
    int st = pclose(g);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st))
        return pf_err(PF_EIO, "plot: gnuplot failed drawing %s into %s (exit %d; is gnuplot-nox installed?)", csv, png,
                      st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return PF_OK;
}
