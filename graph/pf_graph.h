/* pf_graph: a graph config file (libconfig) as validated nodes and edges,
 * and the plan of any one node instance (its endpoints and parameters).
 * See docs/config.md for the file format. */
#ifndef PF_GRAPH_H
#define PF_GRAPH_H

#include "pf_diag.h"
#include "pf_node.h"

#include <stdio.h>

typedef struct {
    char *name, *kind_name, *host;
    const pf_kind *kind;
    int replicas, line;
    pf_params *params;
    int n_rhosts;                 /* host = [...]: replica r runs on rhosts[r % n_rhosts] */
    char **rhosts;
    int restart, restart_line;    /* restart = N: the launcher restarts a failed instance N times (pf_reliable.c) */
} pf_gnode;

typedef struct {
    int from, to;                 /* node indices */
    char *from_port, *to_port;
    int policy, hwm, feedback, line;
} pf_gedge;

typedef struct { char *name, *addr, *cert; int line; } pf_ghost; /* cert: public certificate (pf_graph_security.c) */

typedef struct pf_graph {
    const pf_kind *const *kinds;  /* the registry the graph was loaded with */
    char **set;                   /* the overrides it was loaded with (node processes get them too) */
    int n_set;
    char *path, *name, *ipc_dir, *default_host;
    uint64_t seed;
    int base_port;
    double drain_timeout;
    int max_frame_mb;   /* ZMQ_MAXMSGSIZE of every socket, MiB per frame */
    double stall_warn;  /* seconds without progress before the launcher names the waiting edges */
    char *cert;                   /* graph-wide certificate; security settings: pf_graph_security.c */
    int cert_line, insecure, insecure_line, hosts_line;
    double host_timeout;
    double heartbeat_timeout; /* seconds of silence before a neighbouring host is dead (0: never) */
    int n_nodes, n_edges, n_hosts;
    pf_gnode *nodes;
    pf_gedge *edges;
    pf_ghost *hosts;
} pf_graph;

typedef struct {
    const pf_kind *const *kinds; /* NULL-terminated registry of node kinds */
    const char *const *set;      /* overrides "NODE.PARAM=VALUE" or "KEY=VALUE" (graph level), */
    int n_set;                   /* VALUE in config syntax; applied before validation */
} pf_graph_opts;

/* Load and validate. NULL (with every problem in diag) if anything is wrong. */
pf_graph *pf_graph_load(const char *path, const pf_graph_opts *opts, pf_diag *diag);
/* Structural checks (ports connected, limits, no data cycle); pf_graph_load runs them. */
void pf_graph_check(const pf_graph *g, pf_diag *diag);
/* The kind of this name in the graph's registry, or NULL. */
const pf_kind *pf_graph_kind(const pf_graph *g, const char *name);
void pf_graph_destroy(pf_graph *g);
int pf_graph_find(const pf_graph *g, const char *node);
/* Rank of an instance: its index when every node's replicas are listed in order. */
int pf_graph_rank(const pf_graph *g, int node, int replica);
/* Host a node runs on ("" when the graph declares no hosts); with a host
 * list, its first host: pf_graph_instance_host() places each replica. */
const char *pf_graph_node_host(const pf_graph *g, int node);

/* Acknowledged delivery (pf_reliable.c): a node is protected when its kind is
 * per-window and it has replicas or `restart`; the data edges into and out of
 * a protected node are acknowledged; an instance of it may die without
 * failing the graph while another replica, or a restart, takes its work. */
int pf_graph_protected(const pf_graph *g, int node);
int pf_graph_edge_acked(const pf_graph *g, int edge);
void pf_graph_check_reliable(const pf_graph *g, pf_diag *diag);

/* Plan one instance. ipc_dir NULL = the graph's; strings live in the plan
 * until pf_graph_plan_free. */
int pf_graph_plan(const pf_graph *g, const char *node, int replica, const char *ipc_dir,
                  const char *status_endpoint, pf_instance *out);
void pf_graph_plan_free(pf_instance *inst);

/* Checks against this machine, for `check` and `run` (nodes placed on `host`,
 * or every node when the graph declares no hosts): socket path lengths, and
 * each kind's check of its parameters (missing records, folders). Every
 * problem as "file:line: ...". */
void pf_graph_check_env(const pf_graph *g, const char *host, pf_diag *dg);

/* Topology as text, or Graphviz dot. */
void pf_graph_print(const pf_graph *g, FILE *f, int dot);

/* Describe node kinds (params with type, default, range, doc). */
void pf_kind_describe(const pf_kind *k, FILE *f);

#endif
