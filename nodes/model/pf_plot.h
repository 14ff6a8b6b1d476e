/* pf_plot: the trainer's metrics CSV as a PNG of per-term curves (training
 * per step, validation per evaluation), drawn by gnuplot's pngcairo terminal
 * (Debian's gnuplot-nox): a kept plotting program that reads the CSV as it
 * is, so nothing here draws or rasterises. Used by the trainer at the end of
 * a run and by `physioflow plot`. */
#ifndef PF_PLOT_H
#define PF_PLOT_H

/* title may be NULL (the CSV's name). Fails naming the file when it has no
 * rows or gnuplot is missing or fails. */
int pf_plot_metrics(const char *csv, const char *png, const char *title);

#endif
