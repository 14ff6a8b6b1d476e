#include "pf_graph_security.h"

#include "pf_error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Certificate paths are relative to the graph file, so one file works from any folder. */
static char *resolve(const pf_graph *g, const char *p)
{
    const char *slash = strrchr(g->path, '/');
    if (p[0] == '/' || !slash) return strdup(p);
    size_t n = (size_t)(slash - g->path) + 1 + strlen(p) + 1;
    char *r = malloc(n);
    snprintf(r, n, "%.*s/%s", (int)(slash - g->path), g->path, p);
    return r;
}

const char *pf_graph_instance_host(const pf_graph *g, int node, int replica)
{
    const pf_gnode *n = &g->nodes[node];
    if (n->n_rhosts) return n->rhosts[replica % n->n_rhosts];
    return pf_graph_node_host(g, node);
}

void pf_gsec_host_list(pf_graph *g, pf_gnode *gn, config_setting_t *v, pf_diag *dg)
{
    int line = config_setting_source_line(v), n = config_setting_length(v);
    if (!config_setting_is_array(v) && !config_setting_is_list(v)) n = 0;
    if (n < 1) { pf_diag_add(dg, "%s:%d: node '%s': host must be a host name or a list of them", g->path, line, gn->name); return; }
    gn->rhosts = calloc((size_t)n, sizeof *gn->rhosts);
    for (int i = 0; i < n; i++) {
        const char *h = config_setting_get_string_elem(v, i);
        if (!h) { pf_diag_add(dg, "%s:%d: node '%s': host list item %d must be a string", g->path, line, gn->name, i + 1); continue; }
        int found = 0;
        for (int k = 0; k < g->n_hosts; k++) found |= !strcmp(g->hosts[k].name, h);
        if (!found) pf_diag_add(dg, "%s:%d: node '%s': host '%s' is not declared in 'hosts'", g->path, line, gn->name, h);
        gn->rhosts[gn->n_rhosts++] = strdup(h);
    }
    if (gn->n_rhosts) gn->host = strdup(gn->rhosts[0]);
}

int pf_gsec_edge_hosts(const pf_graph *g, int a, int b, const char **ha, const char **hb)
{
    for (int i = 0; i < g->nodes[a].replicas; i++)
        for (int k = 0; k < g->nodes[b].replicas; k++) {
            *ha = pf_graph_instance_host(g, a, i);
            *hb = pf_graph_instance_host(g, b, k);
            if (strcmp(*ha, *hb)) return 1;
        }
    return 0;
}

void pf_gsec_host_group(pf_graph *g, config_setting_t *h, pf_diag *dg)
{
    const char *name = config_setting_name(h);
    int line = config_setting_source_line(h);
    const char *addr = NULL, *cert = NULL;
    config_setting_lookup_string(h, "address", &addr);
    config_setting_lookup_string(h, "cert", &cert);
    if (!addr) { pf_diag_add(dg, "%s:%d: host '%s' needs an 'address' string", g->path, line, name); return; }
    for (int i = 0; i < config_setting_length(h); i++) {
        const char *k = config_setting_name(config_setting_get_elem(h, (unsigned)i));
        if (strcmp(k, "address") && strcmp(k, "cert"))
            pf_diag_add(dg, "%s:%d: host '%s': unknown setting '%s' (known: address, cert)", g->path,
                        config_setting_source_line(config_setting_get_elem(h, (unsigned)i)), name, k);
    }
    pf_ghost *gh = &g->hosts[g->n_hosts++];
    gh->name = strdup(name);
    gh->addr = strdup(addr);
    gh->line = line;
    if (cert) gh->cert = resolve(g, cert);
    else if (config_setting_get_member(h, "cert")) pf_diag_add(dg, "%s:%d: host '%s': cert must be a string", g->path, line, name);
}

void pf_gsec_load(pf_graph *g, config_t *cfg, pf_diag *dg)
{
    g->host_timeout = 60.0;
    g->heartbeat_timeout = 3.0;
    config_setting_t *s;
    if ((s = config_lookup(cfg, "cert"))) {
        g->cert_line = config_setting_source_line(s);
        if (config_setting_type(s) != CONFIG_TYPE_STRING) pf_diag_add(dg, "%s:%d: cert must be a string (a certificate file)", g->path, g->cert_line);
        else g->cert = resolve(g, config_setting_get_string(s));
    }
    if ((s = config_lookup(cfg, "insecure"))) {
        g->insecure_line = config_setting_source_line(s);
        if (config_setting_type(s) != CONFIG_TYPE_BOOL) pf_diag_add(dg, "%s:%d: insecure must be true or false", g->path, g->insecure_line);
        else g->insecure = config_setting_get_bool(s);
    }
    if ((s = config_lookup(cfg, "host_timeout"))) {
        int t = config_setting_type(s);
        double v = t == CONFIG_TYPE_FLOAT ? config_setting_get_float(s)
                 : (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) ? (double)config_setting_get_int64(s) : -1;
        if (!(v > 0 && v <= 86400)) pf_diag_add(dg, "%s:%d: host_timeout must be a number of seconds in (0, 86400]", g->path, config_setting_source_line(s));
        else g->host_timeout = v;
    }
    if ((s = config_lookup(cfg, "heartbeat_timeout"))) {
        int t = config_setting_type(s);
        double v = t == CONFIG_TYPE_FLOAT ? config_setting_get_float(s)
                 : (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) ? (double)config_setting_get_int64(s) : -1;
        /* under a second, a busy machine's scheduling hiccup would read as a dead host */
        if (!(v == 0 || (v >= 1 && v <= 3600)))
            pf_diag_add(dg, "%s:%d: heartbeat_timeout must be 0 (never declare a host dead) or seconds in [1, 3600]", g->path,
                        config_setting_source_line(s));
        else g->heartbeat_timeout = v;
    }
    if ((s = config_lookup(cfg, "hosts"))) g->hosts_line = config_setting_source_line(s);
}

int pf_gsec_has_tcp(const pf_graph *g)
{
    const char *ha, *hb;
    for (int j = 0; j < g->n_edges; j++)
        if (pf_gsec_edge_hosts(g, g->edges[j].from, g->edges[j].to, &ha, &hb)) return 1;
    return 0;
}

const char *pf_gsec_host_cert(const pf_graph *g, const char *host)
{
    for (int i = 0; i < g->n_hosts; i++)
        if (!strcmp(g->hosts[i].name, host) && g->hosts[i].cert) return g->hosts[i].cert;
    return g->cert;
}

static int host_line(const pf_graph *g, const char *host)
{
    for (int i = 0; i < g->n_hosts; i++)
        if (!strcmp(g->hosts[i].name, host)) return g->hosts[i].line ? g->hosts[i].line : g->hosts_line;
    return g->hosts_line;
}

/* Line naming a host's certificate: its own entry, else the graph's cert. */
static int cert_line(const pf_graph *g, const char *host)
{
    for (int i = 0; i < g->n_hosts; i++)
        if (!strcmp(g->hosts[i].name, host) && g->hosts[i].cert) return g->hosts[i].line;
    return g->cert_line;
}

static void check_cert(const pf_graph *g, pf_diag *dg, const char *cert, int line, const char *who)
{
    char key[41];
    if (pf_security_public_key(cert, key)) pf_diag_add(dg, "%s:%d: %s: %s", g->path, line, who, pf_errmsg());
}

void pf_gsec_check(pf_graph *g, pf_diag *dg)
{
    for (int i = 0; i < g->n_hosts; i++) {
        pf_ghost *h = &g->hosts[i];
        int line = h->line ? h->line : g->hosts_line;
        unsigned char buf[16];
        if (!*h->addr) { pf_diag_add(dg, "%s:%d: host '%s': empty address", g->path, line, h->name); continue; }
        if (inet_pton(AF_INET, h->addr, buf) != 1 && inet_pton(AF_INET6, h->addr, buf) != 1) {
            struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
            int rc = getaddrinfo(h->addr, NULL, &hints, &res);
            if (rc) pf_diag_add(dg, "%s:%d: host '%s': address '%s' does not resolve: %s", g->path, line, h->name, h->addr, gai_strerror(rc));
            else freeaddrinfo(res);
        }
        if (h->cert) {
            char who[128];
            snprintf(who, sizeof who, "host '%s'", h->name);
            check_cert(g, dg, h->cert, line, who);
        }
    }
    if (g->cert) check_cert(g, dg, g->cert, g->cert_line, "cert");
    if (!pf_gsec_has_tcp(g) || g->insecure) return;
    /* every host at the end of a tcp edge needs a key pair */
    for (int j = 0; j < g->n_edges; j++) {
        const char *hf, *ht;
        if (!pf_gsec_edge_hosts(g, g->edges[j].from, g->edges[j].to, &hf, &ht)) continue;
        const char *hs[2] = {hf, ht};
        for (int k = 0; k < 2; k++)
            if (!pf_gsec_host_cert(g, hs[k])) {
                pf_diag_add(dg, "%s:%d: edge %s -> %s joins hosts %s and %s over tcp: host '%s' has no certificate "
                                "(set 'cert' for the graph or in the host's entry; create one with physioflow keygen), "
                                "or set insecure = true for plain text",
                            g->path, g->edges[j].line, g->nodes[g->edges[j].from].name, g->nodes[g->edges[j].to].name, hf, ht, hs[k]);
                return;
            }
    }
}

int pf_gsec_port_remote(const pf_graph *g, int node, int replica, const char *port)
{
    const char *h = pf_graph_instance_host(g, node, replica);
    for (int j = 0; j < g->n_edges; j++) {
        if (g->edges[j].to != node || strcmp(g->edges[j].to_port, port)) continue;
        for (int u = 0; u < g->nodes[g->edges[j].from].replicas; u++)
            if (strcmp(pf_graph_instance_host(g, g->edges[j].from, u), h)) return 1;
    }
    return 0;
}

void pf_gsec_plan_free(pf_sec_plan *p)
{
    if (!p) return;
    free((char *)p->secret_cert);
    for (int i = 0; i < p->n_peers; i++) { free((char *)p->peers[i].endpoint); free((char *)p->peers[i].server_key); }
    free(p->peers);
    free(p->allowed); /* the strings belong to the graph */
    free(p);
}

int pf_gsec_plan_make(const pf_graph *g, const char *host, int secure_bind, int n, const char *const *endpoints,
                      const char *const *server_hosts, pf_sec_plan **out)
{
    *out = NULL;
    int need = secure_bind;
    for (int i = 0; i < n; i++) need |= server_hosts[i] != NULL;
    if (!need || g->insecure) return PF_OK;
    const char *mine = pf_gsec_host_cert(g, host);
    if (!mine) return pf_err(PF_EINVAL, "%s:%d: host '%s' has no certificate", g->path, host_line(g, host), host);
    char secret[1100];
    snprintf(secret, sizeof secret, "%s_secret", mine);
    if (access(secret, R_OK))
        return pf_err(PF_EIO, "%s:%d: host '%s': secret key '%s' (needed to run on %s): cannot read: %s", g->path,
                      cert_line(g, host), host, secret, host, strerror(errno));
    pf_sec_plan *p = calloc(1, sizeof *p);
    p->curve = 1;
    p->secret_cert = strdup(mine);
    p->allowed = calloc((size_t)g->n_hosts + 2, sizeof *p->allowed);
    if (g->cert) p->allowed[p->n_allowed++] = g->cert;
    for (int i = 0; i < g->n_hosts; i++) {
        int dup = 0;
        for (int k = 0; k < p->n_allowed; k++) dup |= g->hosts[i].cert && !strcmp(p->allowed[k], g->hosts[i].cert);
        if (g->hosts[i].cert && !dup) p->allowed[p->n_allowed++] = g->hosts[i].cert;
    }
    p->peers = calloc((size_t)n + 1, sizeof *p->peers);
    for (int i = 0; i < n; i++) {
        if (!server_hosts[i]) continue;
        const char *cert = pf_gsec_host_cert(g, server_hosts[i]);
        char key[41];
        if (!cert || pf_security_public_key(cert, key)) {
            int rc = cert ? pf_err_context(PF_EIO, "%s:%d: host '%s'", g->path, cert_line(g, server_hosts[i]), server_hosts[i])
                          : pf_err(PF_EINVAL, "%s:%d: host '%s' has no certificate", g->path, host_line(g, server_hosts[i]), server_hosts[i]);
            pf_gsec_plan_free(p);
            return rc;
        }
        p->peers[p->n_peers].endpoint = strdup(endpoints[i]);
        p->peers[p->n_peers++].server_key = strdup(key);
    }
    *out = p;
    return PF_OK;
}

int pf_gsec_plan_instance(const pf_graph *g, int node, int replica, pf_instance *inst)
{
    int secure_bind = 0, n = 0;
    for (int i = 0; i < inst->n_in; i++)
        for (int b = 0; b < inst->in[i].n_bind; b++) secure_bind |= !strncmp(inst->in[i].bind[b], "tcp://", 6);
    const char *eps[PF_MAX_EDGES * PF_MAX_PEERS], *hosts[PF_MAX_EDGES * PF_MAX_PEERS];
    int e = 0;
    for (int j = 0; j < g->n_edges; j++) {
        if (g->edges[j].from != node) continue;
        const pf_out_plan *op = &inst->out[e++];
        int to = g->edges[j].to;
        /* CURVE is a property of the receiving socket: ipc peers of a socket that also takes tcp use it too */
        for (int r = 0; r < op->n_peers; r++) {
            eps[n] = op->connect[r];
            hosts[n++] = pf_gsec_port_remote(g, to, r, g->edges[j].to_port) ? pf_graph_instance_host(g, to, r) : NULL;
        }
    }
    pf_sec_plan *p;
    int rc = pf_gsec_plan_make(g, pf_graph_instance_host(g, node, replica), secure_bind, n, eps, hosts, &p);
    inst->security = p;
    return rc;
}
