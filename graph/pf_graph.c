/* pf_graph: loading a graph file (libconfig) into validated nodes and edges:
 * parameters checked against each kind's schema, edges against its ports. */
#include "pf_graph.h"

#include "pf_error.h"
#include "pf_graph_set.h"
#include "pf_graph_security.h"

#include <ctype.h>
#include <libconfig.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- helpers -------------------------------------------------------------- */

static const char *cfg_type_name(int t)
{
    switch (t) {
    case CONFIG_TYPE_INT: case CONFIG_TYPE_INT64: return "an integer";
    case CONFIG_TYPE_FLOAT: return "a number";
    case CONFIG_TYPE_BOOL: return "a boolean";
    case CONFIG_TYPE_STRING: return "a string";
    case CONFIG_TYPE_ARRAY: case CONFIG_TYPE_LIST: return "a list";
    case CONFIG_TYPE_GROUP: return "a group";
    default: return "?";
    }
}

static int valid_name(const char *s)
{
    if (!s || !*s || strlen(s) > 48) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-') return 0;
    return 1;
}

static int choice_ok(const char *choices, const char *v)
{
    if (!choices) return 1;
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, v, n)) return 1;
        if (!bar) break;
        p = bar + 1;
    }
    return 0;
}


/* Parse a default text into params (specs are ours: failures are bugs). */
static void set_default(pf_params *p, const pf_param_spec *s)
{
    const char *d = s->def;
    switch (s->type) {
    case PF_P_INT: pf_params_set_int(p, s->name, strtoll(d, NULL, 10)); break;
    case PF_P_DOUBLE: pf_params_set_double(p, s->name, strtod(d, NULL)); break;
    case PF_P_BOOL: pf_params_set_bool(p, s->name, !strcmp(d, "true") || !strcmp(d, "1")); break;
    case PF_P_STRING: pf_params_set_string(p, s->name, d); break;
    case PF_P_STRLIST: case PF_P_NUMLIST: {
        char *copy = strdup(d), *save = NULL;
        const char *items[256];
        double nums[256];
        int n = 0;
        for (char *t = strtok_r(copy, ",", &save); t && n < 256; t = strtok_r(NULL, ",", &save)) {
            while (*t == ' ') t++;
            items[n] = t;
            nums[n] = strtod(t, NULL);
            n++;
        }
        if (s->type == PF_P_STRLIST) pf_params_set_strlist(p, s->name, n, items);
        else pf_params_set_numlist(p, s->name, n, nums);
        free(copy);
        break;
    }
    }
}

/* Check one configured value against its spec; set it. */
static void take_param(pf_diag *dg, const char *file, const char *node, const pf_param_spec *s,
                       config_setting_t *v, pf_params *p)
{
    int line = config_setting_source_line(v);
    int t = config_setting_type(v);
    char where[512];
    snprintf(where, sizeof where, "%s:%d: node '%s': parameter '%s'", file, line, node, s->name);
    switch (s->type) {
    case PF_P_INT: {
        if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
            pf_diag_add(dg, "%s must be an integer, got %s", where, cfg_type_name(t));
            return;
        }
        long long x = config_setting_get_int64(v);
        if (pf_param_has_range(s) && (x < s->min || x > s->max)) {
            pf_diag_add(dg, "%s = %lld is out of range [%g, %g]", where, x, s->min, s->max);
            return;
        }
        pf_params_set_int(p, s->name, x);
        return;
    }
    case PF_P_DOUBLE: {
        double x;
        if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) x = (double)config_setting_get_int64(v);
        else if (t == CONFIG_TYPE_FLOAT) x = config_setting_get_float(v);
        else { pf_diag_add(dg, "%s must be a number, got %s", where, cfg_type_name(t)); return; }
        if (!isfinite(x) || (pf_param_has_range(s) && (x < s->min || x > s->max))) {
            pf_diag_add(dg, "%s = %g is out of range [%g, %g]", where, x, s->min, s->max);
            return;
        }
        pf_params_set_double(p, s->name, x);
        return;
    }
    case PF_P_BOOL:
        if (t != CONFIG_TYPE_BOOL) { pf_diag_add(dg, "%s must be true or false, got %s", where, cfg_type_name(t)); return; }
        pf_params_set_bool(p, s->name, config_setting_get_bool(v));
        return;
    case PF_P_STRING: {
        if (t != CONFIG_TYPE_STRING) { pf_diag_add(dg, "%s must be a string, got %s", where, cfg_type_name(t)); return; }
        const char *x = config_setting_get_string(v);
        if (!choice_ok(s->choices, x)) { pf_diag_add(dg, "%s = \"%s\" is not one of %s", where, x, s->choices); return; }
        pf_params_set_string(p, s->name, x);
        return;
    }
    case PF_P_STRLIST: case PF_P_NUMLIST: {
        if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) {
            pf_diag_add(dg, "%s must be a %s, got %s", where, pf_param_type_name(s->type), cfg_type_name(t));
            return;
        }
        int n = config_setting_length(v);
        if (pf_param_has_range(s) && (n < s->min || n > s->max)) {
            pf_diag_add(dg, "%s has %d items; allowed %g to %g", where, n, s->min, s->max);
            return;
        }
        const char **items = calloc((size_t)n + 1, sizeof *items);
        double *nums = calloc((size_t)n + 1, sizeof *nums);
        int ok = items && nums;
        for (int i = 0; ok && i < n; i++) {
            config_setting_t *e = config_setting_get_elem(v, (unsigned)i);
            int et = config_setting_type(e);
            if (s->type == PF_P_STRLIST) {
                if (et != CONFIG_TYPE_STRING) { pf_diag_add(dg, "%s: item %d must be a string, got %s", where, i + 1, cfg_type_name(et)); ok = 0; break; }
                items[i] = config_setting_get_string(e);
                if (!choice_ok(s->choices, items[i])) { pf_diag_add(dg, "%s: item \"%s\" is not one of %s", where, items[i], s->choices); ok = 0; }
            } else {
                if (et == CONFIG_TYPE_INT || et == CONFIG_TYPE_INT64) nums[i] = (double)config_setting_get_int64(e);
                else if (et == CONFIG_TYPE_FLOAT) nums[i] = config_setting_get_float(e);
                else { pf_diag_add(dg, "%s: item %d must be a number, got %s", where, i + 1, cfg_type_name(et)); ok = 0; }
            }
        }
        if (ok) {
            if (s->type == PF_P_STRLIST) pf_params_set_strlist(p, s->name, n, items);
            else pf_params_set_numlist(p, s->name, n, nums);
        }
        free(items);
        free(nums);
        return;
    }
    }
}

static const char *get_str(config_setting_t *g, const char *key)
{
    config_setting_t *m = config_setting_get_member(g, key);
    return m && config_setting_type(m) == CONFIG_TYPE_STRING ? config_setting_get_string(m) : NULL;
}

static const pf_port_spec *find_port(const pf_kind *k, const char *port, int dir)
{
    for (const pf_port_spec *p = k->ports; p && p->name; p++)
        if (p->dir == dir && (!port || !strcmp(p->name, port))) return p;
    return NULL;
}

static int count_ports(const pf_kind *k, int dir)
{
    int n = 0;
    for (const pf_port_spec *p = k->ports; p && p->name; p++) n += p->dir == dir;
    return n;
}

/* --- loading -------------------------------------------------------------- */

static void load_nodes(pf_graph *g, config_t *cfg, pf_diag *dg)
{
    const char *file = g->path;
    config_setting_t *nodes = config_lookup(cfg, "nodes");
    if (!nodes) { pf_diag_add(dg, "%s:1: the graph has no 'nodes' list", file); return; }
    if (!config_setting_is_aggregate(nodes) || config_setting_is_group(nodes)) {
        pf_diag_add(dg, "%s:%d: 'nodes' must be a list of groups ( {...}, {...} )", file, config_setting_source_line(nodes));
        return;
    }
    int n = config_setting_length(nodes);
    g->nodes = calloc((size_t)n + 1, sizeof *g->nodes);
    for (int i = 0; i < n; i++) {
        config_setting_t *s = config_setting_get_elem(nodes, (unsigned)i);
        int line = config_setting_source_line(s);
        if (!config_setting_is_group(s)) { pf_diag_add(dg, "%s:%d: node %d must be a group { name = ...; kind = ...; }", file, line, i + 1); continue; }
        const char *name = get_str(s, "name"), *kind = get_str(s, "kind");
        if (!name) { pf_diag_add(dg, "%s:%d: node %d has no 'name' string", file, line, i + 1); continue; }
        if (!valid_name(name)) { pf_diag_add(dg, "%s:%d: node name '%s' must be 1-48 letters, digits, '_' or '-'", file, line, name); continue; }
        if (pf_graph_find(g, name) >= 0) { pf_diag_add(dg, "%s:%d: duplicate node name '%s'", file, line, name); continue; }
        pf_gnode *gn = &g->nodes[g->n_nodes++];
        gn->name = strdup(name);
        gn->line = line;
        gn->replicas = 1;
        gn->params = pf_params_create();
        if (!kind) { pf_diag_add(dg, "%s:%d: node '%s' has no 'kind' string", file, line, name); continue; }
        gn->kind_name = strdup(kind);
        gn->kind = pf_graph_kind(g, kind);
        if (!gn->kind) {
            char known[512] = "";
            for (int k = 0; g->kinds && g->kinds[k]; k++) {
                strncat(known, k ? ", " : "", sizeof known - strlen(known) - 1);
                strncat(known, g->kinds[k]->name, sizeof known - strlen(known) - 1);
            }
            pf_diag_add(dg, "%s:%d: node '%s': unknown kind '%s' (known: %s)", file, line, name, kind, known);
            continue;
        }
        config_setting_t *rep = config_setting_get_member(s, "replicas");
        if (rep) {
            int rt = config_setting_type(rep);
            long long r = (rt == CONFIG_TYPE_INT || rt == CONFIG_TYPE_INT64) ? config_setting_get_int64(rep) : -1;
            if (r < 1 || r > PF_MAX_PEERS)
                pf_diag_add(dg, "%s:%d: node '%s': replicas must be an integer in [1, %d]", file, config_setting_source_line(rep), name, PF_MAX_PEERS);
            else gn->replicas = (int)r;
        }
        config_setting_t *rs = config_setting_get_member(s, "restart");
        if (rs) {
            int rt = config_setting_type(rs);
            long long r = (rt == CONFIG_TYPE_INT || rt == CONFIG_TYPE_INT64) ? config_setting_get_int64(rs) : -1;
            gn->restart_line = config_setting_source_line(rs);
            if (r < 0 || r > 1000)
                pf_diag_add(dg, "%s:%d: node '%s': restart must be an integer in [0, 1000]", file, gn->restart_line, name);
            else gn->restart = (int)r;
        }
        const char *host = get_str(s, "host");
        if (host) {
            gn->host = strdup(host);
            int found = 0;
            for (int h = 0; h < g->n_hosts; h++) found |= !strcmp(g->hosts[h].name, host);
            if (!found) pf_diag_add(dg, "%s:%d: node '%s': host '%s' is not declared in 'hosts'", file, line, name, host);
        }
        else if (config_setting_get_member(s, "host"))
            pf_gsec_host_list(g, gn, config_setting_get_member(s, "host"), dg);
        /* every other member is a parameter of the kind */
        int nm = config_setting_length(s);
        for (int m = 0; m < nm; m++) {
            config_setting_t *v = config_setting_get_elem(s, (unsigned)m);
            const char *key = config_setting_name(v);
            if (!strcmp(key, "name") || !strcmp(key, "kind") || !strcmp(key, "replicas") || !strcmp(key, "host") ||
                !strcmp(key, "restart")) continue;
            const pf_param_spec *ps = gn->kind->params;
            while (ps && ps->name && strcmp(ps->name, key)) ps++;
            if (!ps || !ps->name) {
                char known[512] = "";
                for (const pf_param_spec *q = gn->kind->params; q && q->name; q++) {
                    strncat(known, q == gn->kind->params ? "" : ", ", sizeof known - strlen(known) - 1);
                    strncat(known, q->name, sizeof known - strlen(known) - 1);
                }
                pf_diag_add(dg, "%s:%d: node '%s': unknown parameter '%s' for kind %s (known: %s)", file,
                            config_setting_source_line(v), name, key, gn->kind->name, known[0] ? known : "none");
                continue;
            }
            take_param(dg, file, name, ps, v, gn->params);
        }
        for (const pf_param_spec *ps = gn->kind->params; ps && ps->name; ps++) {
            if (pf_params_get(gn->params, ps->name)) continue;
            if (!ps->def) pf_diag_add(dg, "%s:%d: node '%s': missing required parameter '%s' (%s: %s)", file, line, name, ps->name, pf_param_type_name(ps->type), ps->doc ? ps->doc : "");
            else set_default(gn->params, ps);
        }
    }
}

/* "node.port" or "node" (the node's only port in that direction). */
static int parse_endpoint(pf_graph *g, pf_diag *dg, const char *text, int dir, int line, int *node, char **port)
{
    const char *file = g->path;
    const char *what = dir == PF_PORT_OUT ? "from" : "to";
    char buf[128];
    snprintf(buf, sizeof buf, "%s", text);
    char *dot = strchr(buf, '.');
    if (dot) *dot = 0;
    int ni = pf_graph_find(g, buf);
    if (ni < 0) { pf_diag_add(dg, "%s:%d: edge %s '%s': no node named '%s'", file, line, what, text, buf); return -1; }
    const pf_kind *k = g->nodes[ni].kind;
    if (!k) return -1; /* already reported */
    const char *dname = dir == PF_PORT_OUT ? "output" : "input";
    if (dot) {
        if (!find_port(k, dot + 1, dir)) {
            pf_diag_add(dg, "%s:%d: edge %s '%s': kind %s has no %s port '%s'", file, line, what, text, k->name, dname, dot + 1);
            return -1;
        }
        *port = strdup(dot + 1);
    } else {
        int np = count_ports(k, dir);
        if (np != 1) {
            pf_diag_add(dg, "%s:%d: edge %s '%s': kind %s has %d %s ports; name one as '%s.PORT'", file, line, what, text, k->name, np, dname, buf);
            return -1;
        }
        *port = strdup(find_port(k, NULL, dir)->name);
    }
    *node = ni;
    return 0;
}

static void load_edges(pf_graph *g, config_t *cfg, pf_diag *dg)
{
    const char *file = g->path;
    config_setting_t *edges = config_lookup(cfg, "edges");
    if (!edges) return;
    if (!config_setting_is_aggregate(edges) || config_setting_is_group(edges)) {
        pf_diag_add(dg, "%s:%d: 'edges' must be a list of groups", file, config_setting_source_line(edges));
        return;
    }
    int n = config_setting_length(edges);
    g->edges = calloc((size_t)n + 1, sizeof *g->edges);
    for (int i = 0; i < n; i++) {
        config_setting_t *s = config_setting_get_elem(edges, (unsigned)i);
        int line = config_setting_source_line(s);
        if (!config_setting_is_group(s)) { pf_diag_add(dg, "%s:%d: edge %d must be a group { from = ...; to = ...; }", file, line, i + 1); continue; }
        const char *from = get_str(s, "from"), *to = get_str(s, "to");
        if (!from || !to) { pf_diag_add(dg, "%s:%d: edge %d needs 'from' and 'to' strings", file, line, i + 1); continue; }
        pf_gedge e = {.policy = PF_POLICY_BLOCK, .hwm = 32, .line = line};
        int bad = parse_endpoint(g, dg, from, PF_PORT_OUT, line, &e.from, &e.from_port);
        bad |= parse_endpoint(g, dg, to, PF_PORT_IN, line, &e.to, &e.to_port);
        int nm = config_setting_length(s);
        for (int m = 0; m < nm; m++) {
            config_setting_t *v = config_setting_get_elem(s, (unsigned)m);
            const char *key = config_setting_name(v);
            int vl = config_setting_source_line(v), t = config_setting_type(v);
            if (!strcmp(key, "from") || !strcmp(key, "to")) continue;
            if (!strcmp(key, "policy")) {
                const char *p = t == CONFIG_TYPE_STRING ? config_setting_get_string(v) : "";
                if (!strcmp(p, "block")) e.policy = PF_POLICY_BLOCK;
                else if (!strcmp(p, "drop")) e.policy = PF_POLICY_DROP;
                else { pf_diag_add(dg, "%s:%d: edge %s -> %s: policy must be \"block\" or \"drop\"", file, vl, from, to); bad = 1; }
            } else if (!strcmp(key, "hwm")) {
                long long h = (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) ? config_setting_get_int64(v) : -1;
                if (h < 1 || h > 100000) { pf_diag_add(dg, "%s:%d: edge %s -> %s: hwm must be an integer in [1, 100000]", file, vl, from, to); bad = 1; }
                else e.hwm = (int)h;
            } else if (!strcmp(key, "feedback")) {
                if (t != CONFIG_TYPE_BOOL) { pf_diag_add(dg, "%s:%d: edge %s -> %s: feedback must be true or false", file, vl, from, to); bad = 1; }
                else e.feedback = config_setting_get_bool(v);
            } else {
                pf_diag_add(dg, "%s:%d: edge %s -> %s: unknown setting '%s' (known: from, to, policy, hwm, feedback)", file, vl, from, to, key);
                bad = 1;
            }
        }
        if (bad) { free(e.from_port); free(e.to_port); continue; }
        const pf_port_spec *op = find_port(g->nodes[e.from].kind, e.from_port, PF_PORT_OUT);
        const pf_port_spec *ip = find_port(g->nodes[e.to].kind, e.to_port, PF_PORT_IN);
        if (op->msg != ip->msg) {
            pf_diag_add(dg, "%s:%d: edge %s -> %s: incompatible ports: %s.%s sends %s messages, %s.%s takes %s", file, line, from, to,
                        g->nodes[e.from].name, e.from_port, op->msg == PF_MSG_WINDOW ? "window" : "tensor",
                        g->nodes[e.to].name, e.to_port, ip->msg == PF_MSG_WINDOW ? "window" : "tensor");
            free(e.from_port); free(e.to_port);
            continue;
        }
        int dup = 0;
        for (int j = 0; j < g->n_edges; j++) {
            pf_gedge *o = &g->edges[j];
            if (o->from == e.from && o->to == e.to && !strcmp(o->from_port, e.from_port) && !strcmp(o->to_port, e.to_port)) {
                pf_diag_add(dg, "%s:%d: duplicate edge %s.%s -> %s.%s (first at line %d)", file, line, g->nodes[e.from].name,
                            e.from_port, g->nodes[e.to].name, e.to_port, o->line);
                dup = 1;
            }
        }
        if (dup) { free(e.from_port); free(e.to_port); continue; }
        g->edges[g->n_edges++] = e;
    }
}

const pf_kind *pf_graph_kind(const pf_graph *g, const char *name)
{
    for (int i = 0; g->kinds && g->kinds[i]; i++)
        if (!strcmp(g->kinds[i]->name, name)) return g->kinds[i];
    return NULL;
}

pf_graph *pf_graph_load(const char *path, const pf_graph_opts *opts, pf_diag *dg)
{
    config_t cfg;
    config_init(&cfg);
    if (!config_read_file(&cfg, path)) {
        if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO) pf_diag_add(dg, "%s: cannot read the file", path);
        else pf_diag_add(dg, "%s:%d: syntax error: %s", config_error_file(&cfg) ? config_error_file(&cfg) : path, config_error_line(&cfg), config_error_text(&cfg));
        config_destroy(&cfg);
        return NULL;
    }
    pf_graph *g = calloc(1, sizeof *g);
    int before = dg->n;
    g->kinds = opts ? opts->kinds : NULL;
    if (opts && opts->n_set) {
        g->set = calloc((size_t)opts->n_set, sizeof *g->set);
        for (int i = 0; g->set && i < opts->n_set; i++) g->set[g->n_set++] = strdup(opts->set[i]);
    }
    if (opts && opts->n_set && pf_graph_apply_sets(&cfg, path, opts->set, opts->n_set, dg)) {
        config_destroy(&cfg);
        pf_graph_destroy(g);
        return NULL;
    }
    g->path = strdup(path);
    const char *name = NULL;
    config_lookup_string(&cfg, "name", &name);
    if (!name) {
        /* default: the file's base name without extension */
        const char *b = strrchr(path, '/');
        char buf[64];
        snprintf(buf, sizeof buf, "%s", b ? b + 1 : path);
        char *dot = strchr(buf, '.');
        if (dot) *dot = 0;
        g->name = strdup(buf);
    } else {
        g->name = strdup(name);
    }
    if (!valid_name(g->name)) pf_diag_add(dg, "%s:1: graph name '%s' must be 1-48 letters, digits, '_' or '-'", path, g->name);
    long long seed = 0;
    config_lookup_int64(&cfg, "seed", &seed);
    g->seed = (uint64_t)seed;
    int bp = 5600;
    config_lookup_int(&cfg, "base_port", &bp);
    if (bp < 1024 || bp > 65000) pf_diag_add(dg, "%s:1: base_port %d must be in [1024, 65000]", path, bp);
    g->base_port = bp;
    double dt = 10.0;
    config_lookup_float(&cfg, "drain_timeout", &dt);
    g->drain_timeout = dt;
    int mf = 64;
    config_lookup_int(&cfg, "max_frame_mb", &mf);
    if (mf < 1 || mf > 4096) pf_diag_add(dg, "%s:1: max_frame_mb %d must be in [1, 4096]", path, mf);
    g->max_frame_mb = mf;
    double sw = 30.0;
    config_lookup_float(&cfg, "stall_warn", &sw);
    g->stall_warn = sw;
    const char *ipc = NULL;
    config_lookup_string(&cfg, "ipc_dir", &ipc);
    char defdir[256];
    snprintf(defdir, sizeof defdir, "/tmp/physioflow-%u/%s", (unsigned)getuid(), g->name);
    g->ipc_dir = strdup(ipc ? ipc : defdir);
    pf_gsec_load(g, &cfg, dg);
    config_setting_t *hosts = config_lookup(&cfg, "hosts");
    if (hosts) {
        if (!config_setting_is_group(hosts)) {
            pf_diag_add(dg, "%s:%d: 'hosts' must be a group { name = \"address\"; ... }", path, config_setting_source_line(hosts));
        } else {
            int n = config_setting_length(hosts);
            g->hosts = calloc((size_t)n + 1, sizeof *g->hosts);
            for (int i = 0; i < n; i++) {
                config_setting_t *h = config_setting_get_elem(hosts, (unsigned)i);
                if (config_setting_is_group(h)) { pf_gsec_host_group(g, h, dg); continue; }
                if (config_setting_type(h) != CONFIG_TYPE_STRING) {
                    pf_diag_add(dg, "%s:%d: host '%s' must map to an address string", path, config_setting_source_line(h), config_setting_name(h));
                    continue;
                }
                g->hosts[g->n_hosts].line = config_setting_source_line(h);
                g->hosts[g->n_hosts].name = strdup(config_setting_name(h));
                g->hosts[g->n_hosts++].addr = strdup(config_setting_get_string(h));
            }
        }
        const char *dh = NULL;
        config_lookup_string(&cfg, "default_host", &dh);
        if (dh) g->default_host = strdup(dh);
        else if (g->n_hosts) g->default_host = strdup(g->hosts[0].name);
    }
    /* top-level keys we don't know are mistakes too */
    config_setting_t *root = config_root_setting(&cfg);
    static const char *known[] = {"name", "seed", "base_port", "drain_timeout", "max_frame_mb", "stall_warn", "ipc_dir", "hosts",
                                  "default_host", "nodes", "edges", "cert", "insecure", "host_timeout",
                                  "heartbeat_timeout", NULL};
    for (int i = 0; i < config_setting_length(root); i++) {
        config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        int ok = 0;
        for (int k = 0; known[k]; k++) ok |= !strcmp(known[k], config_setting_name(s));
        if (!ok) pf_diag_add(dg, "%s:%d: unknown top-level setting '%s'", path, config_setting_source_line(s), config_setting_name(s));
    }
    load_nodes(g, &cfg, dg);
    load_edges(g, &cfg, dg);
    if (dg->n == before) pf_graph_check(g, dg);
    if (dg->n == before) pf_gsec_check(g, dg);
    config_destroy(&cfg);
    /* settings an override added have no line: say where they came from */
    char at0[1100];
    snprintf(at0, sizeof at0, "%s:0: ", path);
    for (int i = before; i < dg->n; i++)
        if (!strncmp(dg->msg[i], at0, strlen(at0))) {
            char *m = dg->msg[i];
            size_t rest = strlen(m) - strlen(at0);
            char *r = malloc(rest + 32);
            if (!r) continue;
            snprintf(r, rest + 32, "--set (command line): %s", m + strlen(at0));
            dg->msg[i] = r;
            free(m);
        }
    if (dg->n > before) { pf_graph_destroy(g); return NULL; }
    return g;
}

void pf_graph_destroy(pf_graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->n_nodes; i++) {
        free(g->nodes[i].name); free(g->nodes[i].kind_name); free(g->nodes[i].host);
        for (int k = 0; k < g->nodes[i].n_rhosts; k++) free(g->nodes[i].rhosts[k]);
        free(g->nodes[i].rhosts);
        pf_params_destroy(g->nodes[i].params);
    }
    for (int i = 0; i < g->n_edges; i++) { free(g->edges[i].from_port); free(g->edges[i].to_port); }
    for (int i = 0; i < g->n_hosts; i++) { free(g->hosts[i].name); free(g->hosts[i].addr); free(g->hosts[i].cert); }
    free(g->cert);
    free(g->nodes); free(g->edges); free(g->hosts);
    for (int i = 0; i < g->n_set; i++) free(g->set[i]);
    free(g->set);
    free(g->path); free(g->name); free(g->ipc_dir); free(g->default_host);
    free(g);
}

int pf_graph_rank(const pf_graph *g, int node, int replica)
{
    int k = 0;
    for (int i = 0; i < node; i++) k += g->nodes[i].replicas;
    return k + replica;
}

int pf_graph_find(const pf_graph *g, const char *node)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].name, node)) return i;
    return -1;
}

const char *pf_graph_node_host(const pf_graph *g, int node)
{
    if (g->nodes[node].host) return g->nodes[node].host;
    return g->default_host ? g->default_host : "";
}

