/* physioflow plot METRICS.csv [--out curves.png]: the trainer's curves per
 * term, training and validation, as a PNG (pf_plot: gnuplot's pngcairo). */
#include <stdio.h>
#include <string.h>

#include "pf_cli.h"
#include "pf_error.h"
#include "pf_plot.h"

int pf_cmd_plot(int argc, char **argv)
{
    const char *csv = NULL, *out = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (argv[i][0] == '-' || csv) {
            fprintf(stderr, "usage: physioflow plot METRICS.csv [--out curves.png]\n");
            return 2;
        } else csv = argv[i];
    }
    if (!csv) { fprintf(stderr, "usage: physioflow plot METRICS.csv [--out curves.png]\n"); return 2; }
    char def[4096];
    if (!out) { /* next to the CSV */
        snprintf(def, sizeof def, "%s", csv);
        char *dot = strrchr(def, '.'), *sl = strrchr(def, '/');
        if (dot && (!sl || dot > sl)) *dot = 0;
        strncat(def, ".png", sizeof def - strlen(def) - 1);
        out = def;
    }
    if (pf_plot_metrics(csv, out, NULL)) { fprintf(stderr, "physioflow plot: %s\n", pf_errmsg()); return 1; }
    printf("%s\n", out);
    return 0;
}
