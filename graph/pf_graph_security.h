/* pf_graph_security: the security and multi-host settings of a graph file
 * (certificates, insecure, host_timeout; hosts given as groups), their
 * checks, and each process's pf_sec_plan (runtime/pf_security.h).
 * See docs/config.md, "Security". */
#ifndef PF_GRAPH_SECURITY_H
#define PF_GRAPH_SECURITY_H

#include "pf_graph.h"
#include "pf_security.h"

#include <libconfig.h>

/* Host of one instance: a node's `host` may be a list, replica r on list[r % n]. */
const char *pf_graph_instance_host(const pf_graph *g, int node, int replica);
/* A node's host = ["a", "b", ...]. */
void pf_gsec_host_list(pf_graph *g, pf_gnode *gn, config_setting_t *v, pf_diag *dg);
/* A hosts entry written as { address = "..."; cert = "..."; }. */
void pf_gsec_host_group(pf_graph *g, config_setting_t *h, pf_diag *dg);
/* Top-level cert / insecure / host_timeout. */
void pf_gsec_load(pf_graph *g, config_t *cfg, pf_diag *dg);
/* After the structure is valid: addresses resolve, certificates are
 * readable, and tcp edges are encrypted unless insecure = true. */
void pf_gsec_check(pf_graph *g, pf_diag *dg);
/* 1 when an edge joins instances on two hosts. */
int pf_gsec_has_tcp(const pf_graph *g);
/* Certificate (public file) of a host: its own, else the graph's, else NULL. */
const char *pf_gsec_host_cert(const pf_graph *g, const char *host);
/* Security plan of one process on host `host`, connecting to n endpoints
 * with the given server hosts (NULL: plain). secure_bind: it binds a
 * CURVE-server socket. NULL plan when the graph needs none; PF_OK or pf_err
 * naming the config line (an unreadable secret key). */
int pf_gsec_plan_make(const pf_graph *g, const char *host, int secure_bind, int n, const char *const *endpoints,
                      const char *const *server_hosts, pf_sec_plan **out);
void pf_gsec_plan_free(pf_sec_plan *p);
/* Fill inst->security for node `node` (called by pf_graph_plan). */
int pf_gsec_plan_instance(const pf_graph *g, int node, int replica, pf_instance *inst);
/* 1 when input port `port` of instance (node, replica) accepts tcp peers (upstream on another host). */
int pf_gsec_port_remote(const pf_graph *g, int node, int replica, const char *port);
/* 1 when some instance of node a and some instance of node b are on different hosts;
 * *ha, *hb: such a pair. */
int pf_gsec_edge_hosts(const pf_graph *g, int a, int b, const char **ha, const char **hb);

#endif
