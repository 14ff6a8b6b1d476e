/* pf_plan: the plan of one node instance: parameters, endpoints to bind and
 * connect (ipc on one host, tcp across hosts), end-of-stream counts. */
#include "pf_graph.h"

#include "pf_error.h"
#include "pf_graph_security.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *host_addr(const pf_graph *g, const char *host)
{
    for (int i = 0; i < g->n_hosts; i++)
        if (!strcmp(g->hosts[i].name, host)) return g->hosts[i].addr;
    return "127.0.0.1";
}

/* --- planning -------------------------------------------------------------- */

/* Deterministic TCP port of (node, replica, input port): base + its rank. */
static int tcp_port(const pf_graph *g, int node, int replica, const char *port)
{
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int r = 0; r < g->nodes[i].replicas; r++)
            for (const pf_port_spec *p = g->nodes[i].kind->ports; p && p->name; p++) {
                if (p->dir != PF_PORT_IN) continue;
                if (i == node && r == replica && !strcmp(p->name, port)) return g->base_port + k;
                k++;
            }
    return -1;
}

static char *ipc_ep(const char *dir, const char *node, int r, const char *port)
{
    char buf[512];
    snprintf(buf, sizeof buf, "ipc://%s/%s.%d.%s", dir, node, r, port);
    return strdup(buf);
}

static char *tcp_ep(const char *addr, int port)
{
    char buf[256];
    snprintf(buf, sizeof buf, "tcp://%s:%d", addr, port);
    return strdup(buf);
}

/* Every upstream instance of (node, input port), as the routing ids they connect with. */
static const pf_sender *plan_senders(const pf_graph *g, int node, const char *port, int n)
{
    pf_sender *s = calloc((size_t)n, sizeof *s);
    int k = 0;
    for (int j = 0; s && j < g->n_edges; j++) {
        const pf_gedge *e = &g->edges[j];
        if (e->to != node || strcmp(e->to_port, port)) continue;
        for (int r = 0; r < g->nodes[e->from].replicas && k < n; r++, k++) {
            char id[PF_WIRE_MAX_ID];
            pf_node_route_id(id, sizeof id, g->nodes[e->from].name, r, e->from_port);
            s[k] = (pf_sender){strdup(id), pf_graph_rank(g, e->from, r), pf_graph_protected(g, e->from)};
        }
    }
    return s;
}

int pf_graph_plan(const pf_graph *g, const char *node, int replica, const char *ipc_dir,
                  const char *status_endpoint, pf_instance *out)
{
    memset(out, 0, sizeof *out);
    int ni = pf_graph_find(g, node);
    if (ni < 0) return pf_err(PF_ENOTFOUND, "%s: no node named '%s'", g->path, node);
    const pf_gnode *n = &g->nodes[ni];
    if (replica < 0 || replica >= n->replicas)
        return pf_err(PF_ERANGE, "node '%s' has %d replica(s); replica %d does not exist", node, n->replicas, replica);
    const char *dir = ipc_dir ? ipc_dir : g->ipc_dir;
    const char *my_host = pf_graph_instance_host(g, ni, replica);
    out->graph_name = g->name;
    out->node = n->name;
    out->kind = n->kind;
    out->replica = replica;
    out->replicas = n->replicas;
    out->seed = g->seed;
    out->params = n->params;
    out->drain_timeout = g->drain_timeout;
    out->max_frame_mb = g->max_frame_mb;
    out->status_endpoint = status_endpoint ? strdup(status_endpoint) : NULL;
    for (const pf_port_spec *p = n->kind->ports; p && p->name; p++) {
        if (p->dir != PF_PORT_IN) continue;
        int eos = 0, local = 0, remote = 0, hwm = 0, feedback = 0, acked = 0;
        for (int j = 0; j < g->n_edges; j++) {
            const pf_gedge *e = &g->edges[j];
            if (e->to != ni || strcmp(e->to_port, p->name)) continue;
            eos += g->nodes[e->from].replicas;
            feedback |= e->feedback;
            for (int u = 0; u < g->nodes[e->from].replicas; u++)
                if (!strcmp(pf_graph_instance_host(g, e->from, u), my_host)) local = 1; else remote = 1;
            if (e->hwm > hwm) hwm = e->hwm;
            acked |= pf_graph_edge_acked(g, j);
        }
        if (!eos) continue;
        pf_in_plan *ip = &out->in[out->n_in++];
        ip->port = p->name;
        ip->eos_expected = eos;
        ip->hwm = hwm;
        ip->senders = plan_senders(g, ni, p->name, eos);
        ip->feedback = feedback;
        ip->acked = acked;
        if (local) ip->bind[ip->n_bind++] = ipc_ep(dir, n->name, replica, p->name);
        if (remote) ip->bind[ip->n_bind++] = tcp_ep(host_addr(g, my_host), tcp_port(g, ni, replica, p->name));
    }
    for (int j = 0; j < g->n_edges; j++) {
        const pf_gedge *e = &g->edges[j];
        if (e->from != ni) continue;
        pf_out_plan *op = &out->out[out->n_out++];
        const pf_gnode *to = &g->nodes[e->to];
        char buf[160];
        snprintf(buf, sizeof buf, "%s.%s", to->name, e->to_port);
        op->port = e->from_port;
        op->to = strdup(buf);
        op->policy = e->policy;
        op->feedback = e->feedback;
        op->hwm = e->hwm;
        op->acked = pf_graph_edge_acked(g, j);
        op->redeliverable = pf_graph_protected(g, e->to);
        op->n_peers = to->replicas;
        for (int r = 0; r < to->replicas; r++) {
            const char *to_host = pf_graph_instance_host(g, e->to, r);
            op->peer_rank[r] = pf_graph_rank(g, e->to, r);
            op->connect[r] = !strcmp(to_host, my_host) ? ipc_ep(dir, to->name, r, e->to_port)
                                                      : tcp_ep(host_addr(g, to_host), tcp_port(g, e->to, r, e->to_port));
        }
    }
    int rc = pf_gsec_plan_instance(g, ni, replica, out);
    if (rc) pf_graph_plan_free(out); /* callers free only plans that succeeded */
    return rc;
}

void pf_graph_plan_free(pf_instance *inst)
{
    for (int i = 0; i < inst->n_in; i++) {
        for (int b = 0; b < inst->in[i].n_bind; b++) free((char *)inst->in[i].bind[b]);
        for (int k = 0; inst->in[i].senders && k < inst->in[i].eos_expected; k++) free((char *)inst->in[i].senders[k].id);
        free((void *)inst->in[i].senders);
    }
    for (int e = 0; e < inst->n_out; e++) {
        free((char *)inst->out[e].to);
        for (int p = 0; p < inst->out[e].n_peers; p++) free((char *)inst->out[e].connect[p]);
    }
    free((char *)inst->status_endpoint);
    pf_gsec_plan_free((pf_sec_plan *)inst->security);
    memset(inst, 0, sizeof *inst);
}

