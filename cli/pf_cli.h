/* Shared by the physioflow subcommands (cli/). */
#ifndef PF_CLI_H
#define PF_CLI_H

#include "pf_graph.h"

/* Load a graph with this build's node kinds and the given overrides; prints
 * every problem and returns NULL when it is invalid. */
pf_graph *pf_cli_load(const char *path, const char *const *set, int n_set);

int pf_cmd_eval(int argc, char **argv);
int pf_cmd_features(int argc, char **argv);
int pf_cmd_keygen(int argc, char **argv);
int pf_cmd_plot(int argc, char **argv);
int pf_cmd_export(int argc, char **argv);
int pf_cmd_monitor(int argc, char **argv);
int pf_cmd_embed(int argc, char **argv);
int pf_cmd_probe(int argc, char **argv);

#endif
