#include "pf_launch.h"

#include "pf_ipcdir.h"

#include "pf_error.h"
#include "pf_graph_security.h"
#include "pf_presence.h"
#include "pf_log.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

typedef struct {
    int node, replica;
    pid_t pid;
    int exited, status;        /* waitpid status */
    uint64_t cnt[PF_CNT_N + PF_MAX_CUSTOM_COUNTERS];
    uint64_t prev[PF_CNT_N];   /* at the previous status line, for rates */
    char custom[PF_MAX_CUSTOM_COUNTERS][32];
    uint64_t step_t0, step0;  /* when the first training step was seen (ETA) */
    int n_custom, have_status;
    uint64_t last_status_ns;   /* when its last status arrived (start time before the first) */
    int producing;             /* a source that was not blocked since its previous status */
    int restarts, restart_pending; /* restart = N: restarts done; waiting for restart_at */
    int fenced;                /* another host took it as dead (heartbeat): killed here, never restarted */
    int streak;                /* restarts in a row, each within a minute of the previous start (back-off) */
    uint64_t restart_at, started_ns;
} child_t;

static volatile sig_atomic_t g_interrupt;
#define SILENT_NS 2500000000ull /* statuses come every 0.5 s: 2.5 s without one is a stall */
static void on_signal(int sig) { (void)sig; g_interrupt++; }

static pid_t spawn(const char *exe, const pf_graph *g, const child_t *c, const char *ipc_dir, const char *status_ep,
                   const char *resume)
{
    char rep[16];
    snprintf(rep, sizeof rep, "%d", c->replica);
    pid_t parent = getpid();
    /* death notices stay queued until the node's handler is installed (pf_node_run
     * unblocks them): one sent right after the fork would otherwise kill it */
    sigset_t usr, old;
    sigemptyset(&usr);
    sigaddset(&usr, PF_SIG_DIED);
    sigprocmask(SIG_BLOCK, &usr, &old);
    pid_t pid = fork();
    if (pid != 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        return pid;
    }
    /* child: die with the launcher, whatever kills it, so nothing is orphaned */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    /* own process group: a terminal Ctrl-C reaches only the launcher, which
     * asks each node once to drain (a second signal makes a node quit at once) */
    setpgid(0, 0);
    char inc[16]; /* its restarts so far: tags its messages (runtime/pf_deliver.h) */
    snprintf(inc, sizeof inc, "%d", c->restarts);
    setenv("PF_INCARNATION", inc, 1);
    /* the node loads the graph as the launcher did: same file, same overrides */
    char **argv = calloc(14 + 2 * (size_t)g->n_set, sizeof *argv);
    if (!argv) _exit(127);
    int a = 0;
    char *fixed[] = {(char *)exe, "node", g->path, g->nodes[c->node].name, "--replica", rep,
                     "--ipc-dir", (char *)ipc_dir, "--status", (char *)status_ep};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) argv[a++] = fixed[i];
    for (int i = 0; i < g->n_set; i++) { argv[a++] = "--set"; argv[a++] = g->set[i]; }
    if (resume) { argv[a++] = "--resume"; argv[a++] = (char *)resume; }
    argv[a] = NULL;
    execv(exe, argv);
    fprintf(stderr, "physioflow: cannot exec %s: %s\n", exe, strerror(errno));
    _exit(127);
}

/* A status message is validated like data: a forged or broken one is
 * ignored (and said so, a few times), never read past its sections. */
static int take_status(child_t *kids, int nk, const pf_graph *g, pf_msg *m)
{
    static int warned;
    const pf_section *names = pf_msg_find_const(m, PF_SEC_NAME), *vals = pf_msg_find_const(m, PF_SEC_COUNTERS);
    const char *bad = NULL;
    if (m->kind != PF_MSG_CONTROL || strcmp(m->id, "status")) bad = "not a CONTROL 'status' message";
    else if (!names || names->dtype != PF_DT_U8 || names->ndim != 1) bad = "no u8 NAME section";
    else if (!vals || vals->dtype != PF_DT_U64 || vals->ndim != 1) bad = "no u64 COUNTERS section";
    else if (pf_section_count(vals) < PF_CNT_N || pf_section_count(vals) > PF_CNT_N + PF_MAX_CUSTOM_COUNTERS) bad = "wrong number of counters";
    else if (!memchr(names->data, '\n', names->bytes)) bad = "NAME section without node name";
    if (bad) {
        if (warned++ < 5) pf_warn("ignored a status message: %s", bad);
        return 0;
    }
    char buf[512];
    size_t len = names->bytes < sizeof buf - 1 ? names->bytes : sizeof buf - 1;
    memcpy(buf, names->data, len);
    buf[len] = 0;
    char *nl = strchr(buf, '\n');
    if (!nl) return 0;
    *nl = 0;
    int node = pf_graph_find(g, buf);
    for (int i = 0; i < nk; i++) {
        child_t *c = &kids[i];
        if (c->node != node || (uint64_t)c->replica != m->count) continue;
        size_t nv = pf_section_count(vals);
        if (nv > PF_CNT_N + PF_MAX_CUSTOM_COUNTERS) nv = PF_CNT_N + PF_MAX_CUSTOM_COUNTERS;
        if (((const uint64_t *)vals->data)[PF_CNT_STATE] > PF_STATE_BUSY) {
            if (warned++ < 5) pf_warn("ignored a status message from %s.%d: unknown state", g->nodes[node].name, c->replica);
            return 0;
        }
        uint64_t was_blocked = c->cnt[PF_CNT_BLOCKED_NS];
        memcpy(c->cnt, vals->data, nv * sizeof(uint64_t));
        c->last_status_ns = pf_now_ns();
        /* a source that is free to produce (a realtime one between windows) is not stalled */
        c->producing = c->cnt[PF_CNT_STATE] == PF_STATE_RUNNING && c->cnt[PF_CNT_BLOCKED_NS] - was_blocked < 200000000ull;
        c->n_custom = 0;
        char *save = NULL;
        for (char *t = strtok_r(nl + 1, ",", &save); t && c->n_custom < (int)nv - PF_CNT_N; t = strtok_r(NULL, ",", &save))
            snprintf(c->custom[c->n_custom++], sizeof c->custom[0], "%s", t);
        c->have_status = 1;
    }
    return node >= 0;
}

/* Every 2 s, the last status of each node that has ended: a subscriber that joined late
 * (ZeroMQ PUB/SUB drops what came before it connected) still learns about nodes that
 * finished early. Rebuilt from what take_status kept. */
static void republish_ended(void *pub, const pf_graph *g, const child_t *kids, int nk)
{
    for (int i = 0; pub && i < nk; i++) {
        const child_t *c = &kids[i];
        if (!c->have_status || !c->exited) continue;
        char names[64 + PF_MAX_CUSTOM_COUNTERS * 33];
        int len = snprintf(names, sizeof names, "%s\n", g->nodes[c->node].name);
        for (int k = 0; k < c->n_custom && len < (int)sizeof names - 34; k++)
            len += snprintf(names + len, sizeof names - (size_t)len, "%s%s", k ? "," : "", c->custom[k]);
        uint32_t dn = (uint32_t)len, dv = (uint32_t)(PF_CNT_N + c->n_custom);
        pf_msg *m = pf_msg_create(PF_MSG_CONTROL, "status");
        if (!m) return;
        m->count = (uint64_t)c->replica;
        if (pf_msg_add(m, PF_SEC_NAME, PF_DT_U8, 1, &dn, names) || pf_msg_add(m, PF_SEC_COUNTERS, PF_DT_U64, 1, &dv, c->cnt)) { pf_msg_destroy(m); continue; }
        if (pf_wire_send(pub, m, ZMQ_DONTWAIT) == PF_EAGAIN) pf_msg_destroy(m);
    }
}

/* A validated status goes on to the status.pub socket (in-graph observers such as
 * the dashboard); otherwise, or when nobody listens, it ends here. */
static void pass_status(void *pub, int valid, pf_msg *m)
{
    if (!pub || !valid || pf_wire_send(pub, m, ZMQ_DONTWAIT) == PF_EAGAIN) pf_msg_destroy(m);
}

static int is_source(const pf_graph *g, int node)
{
    for (int j = 0; j < g->n_edges; j++)
        if (g->edges[j].to == node) return 0;
    return 1;
}

/* One line: per node, windows/s, MB/s and the share of time blocked on backpressure. */
static void status_line(const pf_graph *g, child_t *kids, int nk, double dt, int tty)
{
    char line[2048];
    int len = 0;
    uint64_t now = pf_now_ns();
    for (int n = 0; n < g->n_nodes && len < (int)sizeof line - 200; n++) {
        uint64_t msgs = 0, bytes = 0, blocked = 0;
        int reps = 0, src = is_source(g, n);
        int mi = src ? PF_CNT_MSGS_OUT : PF_CNT_MSGS_IN, bi = src ? PF_CNT_BYTES_OUT : PF_CNT_BYTES_IN;
        for (int i = 0; i < nk; i++) {
            child_t *c = &kids[i];
            if (c->node != n) continue;
            reps++;
            msgs += c->cnt[mi] - c->prev[mi];
            bytes += c->cnt[bi] - c->prev[bi];
            blocked += c->cnt[PF_CNT_BLOCKED_NS] - c->prev[PF_CNT_BLOCKED_NS];
            memcpy(c->prev, c->cnt, sizeof c->prev);
        }
        if (!reps) continue;
        double bp = 100.0 * (double)blocked / (dt * 1e9 * reps);
        char label[80];
        int restarts = 0;
        for (int i = 0; i < nk; i++) restarts += kids[i].node == n ? kids[i].restarts : 0;
        if (reps > 1) snprintf(label, sizeof label, "%s x%d", g->nodes[n].name, reps);
        else snprintf(label, sizeof label, "%s", g->nodes[n].name);
        if (restarts) snprintf(label + strlen(label), sizeof label - strlen(label), " (%d restart%s)", restarts, restarts > 1 ? "s" : "");
        len += snprintf(line + len, sizeof line - (size_t)len, "%s%s: %.0f win/s %.1f MB/s bp %.0f%%", len ? " | " : "",
                        label, (double)msgs / dt, (double)bytes / dt / 1e6, bp > 100 ? 100 : bp);
        /* a training node reports gauges: step, steps_total, loss_e6, win_s_e3 (and epoch) */
        for (int i = 0; i < nk && len < (int)sizeof line - 160; i++) {
            child_t *c = &kids[i];
            if (c->node != n) continue;
            uint64_t step = 0, total = 0, wps = 0, epoch = 0;
            int64_t loss = 0, term[4] = {INT64_MIN, INT64_MIN, INT64_MIN, INT64_MIN};
            static const char *const tname[4] = {"masked", "contrastive", "global", "peak"};
            int have = 0;
            for (int k = 0; k < c->n_custom; k++) {
                uint64_t v = c->cnt[PF_CNT_N + k];
                if (!strcmp(c->custom[k], "step")) { step = v; have |= 1; }
                else if (!strcmp(c->custom[k], "steps_total")) { total = v; have |= 2; }
                else if (!strcmp(c->custom[k], "loss_e6")) loss = (int64_t)v;
                else if (!strcmp(c->custom[k], "win_s_e3")) wps = v;
                else if (!strcmp(c->custom[k], "epoch")) epoch = v;
                for (int q = 0; q < 4; q++)
                    if (!strncmp(c->custom[k], tname[q], strlen(tname[q])) && !strcmp(c->custom[k] + strlen(tname[q]), "_e6")) term[q] = (int64_t)v;
            }
            if (have != 3) continue;
            len += snprintf(line + len, sizeof line - (size_t)len, " [epoch %llu step %llu/%llu loss %.4f %.1f win/s",
                            (unsigned long long)epoch, (unsigned long long)step, (unsigned long long)total, (double)loss / 1e6,
                            (double)wps / 1e3);
            int nterms = 0;
            for (int q = 0; q < 4; q++) nterms += term[q] != INT64_MIN;
            for (int q = 0; q < 4 && nterms > 1; q++) /* the terms of a mixed objective */
                if (term[q] != INT64_MIN)
                    len += snprintf(line + len, sizeof line - (size_t)len, " %s %.4f", tname[q], (double)term[q] / 1e6);
            if (step && step < total && c->step_t0 && c->step0 < step) {
                double per = (double)(now - c->step_t0) / 1e9 / (double)(step - c->step0);
                len += snprintf(line + len, sizeof line - (size_t)len, " eta %.0f s", per * (double)(total - step));
            }
            len += snprintf(line + len, sizeof line - (size_t)len, "]");
            if (!c->step_t0 && step) { c->step_t0 = now; c->step0 = step; }
        }
        for (int i = 0; i < nk && len < (int)sizeof line - 100; i++)
            if (kids[i].node == n && kids[i].restart_pending)
                len += snprintf(line + len, sizeof line - (size_t)len, " [%s.%d RESTARTING in %.1f s]", g->nodes[n].name, kids[i].replica,
                                kids[i].restart_at > now ? (double)(kids[i].restart_at - now) / 1e9 : 0.0);
        /* a live instance that stopped reporting (SIGSTOP, a hung kernel call) stalls its edges */
        for (int i = 0; i < nk && len < (int)sizeof line - 100; i++)
            if (kids[i].node == n && !kids[i].exited && now - kids[i].last_status_ns > SILENT_NS)
                len += snprintf(line + len, sizeof line - (size_t)len, " [%s.%d STALLED: no status for %.0f s]", g->nodes[n].name,
                                kids[i].replica, (double)(now - kids[i].last_status_ns) / 1e9);
    }
    if (tty) fprintf(stderr, "\r\033[K%s", line);
    else fprintf(stderr, "status: %s\n", line);
}

static const char *state_name(uint64_t s)
{
    switch (s) {
    case PF_STATE_DONE: return "done";
    case PF_STATE_FAILED: return "failed";
    case PF_STATE_INTERRUPTED: return "interrupted";
    default: return "running";
    }
}

static void summary(const pf_graph *g, child_t *kids, int nk, double secs)
{
    fprintf(stderr, "%-18s %9s %9s %10s %9s %8s %9s %6s %9s  %s\n", "node", "msgs in", "msgs out", "MB in", "win/s",
            "dropped", "malformed", "lost", "blocked s", "state / counters");
    for (int i = 0; i < nk; i++) {
        child_t *c = &kids[i];
        char name[80];
        snprintf(name, sizeof name, "%s.%d", g->nodes[c->node].name, c->replica);
        /* windows per second over the node's own lifetime */
        uint64_t wins = is_source(g, c->node) ? c->cnt[PF_CNT_MSGS_OUT] : c->cnt[PF_CNT_MSGS_IN];
        double up = (double)c->cnt[PF_CNT_UPTIME_NS] / 1e9;
        fprintf(stderr, "%-18s %9llu %9llu %10.1f %9.0f %8llu %9llu %6llu %9.2f  %s", name, (unsigned long long)c->cnt[PF_CNT_MSGS_IN],
                (unsigned long long)c->cnt[PF_CNT_MSGS_OUT], (double)c->cnt[PF_CNT_BYTES_IN] / 1e6, up > 0 ? (double)wins / up : 0,
                (unsigned long long)c->cnt[PF_CNT_DROPPED], (unsigned long long)c->cnt[PF_CNT_MALFORMED],
                (unsigned long long)c->cnt[PF_CNT_LOST], (double)c->cnt[PF_CNT_BLOCKED_NS] / 1e9,
                c->have_status ? state_name(c->cnt[PF_CNT_STATE]) : "no status");
        for (int k = 0; k < c->n_custom; k++) {
            size_t nl = strlen(c->custom[k]);
            if (nl > 3 && !strcmp(c->custom[k] + nl - 3, "_e6")) { /* a signed gauge in millionths: shown as its value */
                int64_t v = (int64_t)c->cnt[PF_CNT_N + k];
                if (v != INT64_MIN) fprintf(stderr, " %.*s=%.4g", (int)(nl - 3), c->custom[k], (double)v / 1e6);
            } else fprintf(stderr, " %s=%llu", c->custom[k], (unsigned long long)c->cnt[PF_CNT_N + k]);
        }
        /* acknowledged delivery: windows sent again after a replica died, second copies dropped */
        if (c->cnt[PF_CNT_REDELIVERED]) fprintf(stderr, " redelivered=%llu", (unsigned long long)c->cnt[PF_CNT_REDELIVERED]);
        if (c->cnt[PF_CNT_DUPLICATES]) fprintf(stderr, " duplicates=%llu", (unsigned long long)c->cnt[PF_CNT_DUPLICATES]);
        if (c->restarts) fprintf(stderr, " restarts=%d", c->restarts);
        fprintf(stderr, "\n");
    }
    fprintf(stderr, "ran %.2f s\n", secs);
}

static void signal_all(child_t *kids, int nk, int sig)
{
    for (int i = 0; i < nk; i++)
        if (!kids[i].exited) kill(kids[i].pid, sig);
}

/* What the launcher knows of every instance of the graph (all hosts), by rank. */
enum { INST_ALIVE = 0, INST_RESTARTING = 1, INST_GONE = 2, INST_DONE = 3 };
static int *g_inst_state;
static int g_any_protected; /* DONE notices matter only around restartable nodes: others are not disturbed */

/* Tell every running node that instance `rank` died (or is restarting, or is
 * back): its neighbours stop waiting for it, or redeliver what it held
 * (pf_node.h, PF_SIG_DIED); and the launchers of neighbouring hosts. */
static void notify(child_t *kids, int nk, pf_presence *pres, int rank, int what, int remote)
{
    g_inst_state[rank] = what == PF_DEATH_DONE ? INST_DONE : what == PF_DEATH_BACK ? INST_ALIVE
                       : what == PF_DEATH_RESTARTING ? INST_RESTARTING : INST_GONE;
    union sigval v = {.sival_int = PF_NOTICE(rank, what)};
    for (int i = 0; i < nk && (what != PF_DEATH_DONE || g_any_protected); i++)
        if (!kids[i].exited && kids[i].pid > 0) sigqueue(kids[i].pid, PF_SIG_DIED, v);
    if (!remote) pf_presence_announce(pres, v.sival_int);
}

/* A new process starts with every instance alive: tell it which are not. */
static void replay_deaths(int total, pid_t pid)
{
    for (int r = 0; r < total; r++) {
        if (g_inst_state[r] == INST_ALIVE || (g_inst_state[r] == INST_DONE && !g_any_protected)) continue;
        int what = g_inst_state[r] == INST_RESTARTING ? PF_DEATH_RESTARTING : g_inst_state[r] == INST_DONE ? PF_DEATH_DONE : PF_DEATH_FINAL;
        union sigval v = {.sival_int = PF_NOTICE(r, what)};
        sigqueue(pid, PF_SIG_DIED, v);
    }
}

/* Every instance feeding this node ended cleanly: everything they sent was
 * acknowledged, so a dead instance of it held nothing, and a new one would
 * wait for an end-of-stream nobody sends any more. */
static int upstream_done(const pf_graph *g, int node)
{
    for (int j = 0; j < g->n_edges; j++) {
        const pf_gedge *e = &g->edges[j];
        if (e->to != node || e->feedback) continue;
        for (int r = 0; r < g->nodes[e->from].replicas; r++)
            if (g_inst_state[pf_graph_rank(g, e->from, r)] != INST_DONE) return 0;
    }
    return 1;
}

/* Another replica of this node is up or coming back: the dead one's work has a taker. */
static int replica_left(const pf_graph *g, int node, int except)
{
    for (int r = 0; r < g->nodes[node].replicas; r++)
        if (r != except && g_inst_state[pf_graph_rank(g, node, r)] != INST_GONE) return 1;
    return 0;
}

/* A neighbouring host fell silent (pf_presence_dead): its launcher and nodes
 * are gone with it. Its instances that had not ended die for good here (no
 * restart on a dead host): survivors redeliver what they held. 1 and a
 * message naming host and node when a node of it has no instance left
 * elsewhere, or is not protected (what it held is lost): the graph fails. */
static int host_died(const pf_graph *g, child_t *kids, int nk, pf_presence *pres, int h, char *why, size_t cap)
{
    const char *host = g->hosts[h].name;
    int fatal = 0;
    for (int n = 0; n < g->n_nodes; n++) {
        int hit = 0;
        for (int r = 0; r < g->nodes[n].replicas; r++) {
            int rank = pf_graph_rank(g, n, r);
            if (strcmp(pf_graph_instance_host(g, n, r), host) || g_inst_state[rank] == INST_DONE) continue;
            hit = 1; /* judged even when another host's notices came first (GONE already) */
            if (g_inst_state[rank] == INST_GONE) continue;
            /* passed on to the other neighbours too: every host takes the same instances as
             * dead, and a host that was only slow stops them (fencing, below) */
            notify(kids, nk, pres, rank, PF_DEATH_FINAL, 0);
        }
        if (!hit) continue;
        int left = 0, ended = 1;
        for (int r = 0; r < g->nodes[n].replicas; r++) {
            int st = g_inst_state[pf_graph_rank(g, n, r)];
            left |= st == INST_ALIVE || st == INST_RESTARTING;
            ended &= st == INST_DONE;
        }
        pf_warn("host '%s': node '%s' died with it%s", host, g->nodes[n].name,
                pf_graph_protected(g, n) && left ? ": its unacknowledged windows go to the other replicas" : "");
        if (!fatal && !ended && (!left || !pf_graph_protected(g, n))) {
            fatal = 1;
            snprintf(why, cap, "host '%s' sent no heartbeat for %.1f s (heartbeat_timeout): node '%s' %s", host, g->heartbeat_timeout,
                     g->nodes[n].name, left ? "was not replicated with acknowledged delivery: what it held is lost"
                                             : "has no instance left on the other hosts");
        }
    }
    return fatal;
}

static int any_edge(const pf_graph *g, int from, int to)
{
    for (int j = 0; j < g->n_edges; j++)
        if (g->edges[j].from == from && g->edges[j].to == to) return 1;
    return 0;
}

/* No counter moved for a while: name the edges that wait, and why. */
static void report_stall(const pf_graph *g, child_t *kids, int nk, double secs)
{
    uint64_t now = pf_now_ns();
    char what[1536];
    int len = 0;
    for (int a = 0; a < nk && len < (int)sizeof what - 200; a++)
        for (int b = 0; b < nk && len < (int)sizeof what - 200; b++) {
            child_t *u = &kids[a], *v = &kids[b];
            if (!any_edge(g, u->node, v->node)) continue;
            const char *un = g->nodes[u->node].name, *vn = g->nodes[v->node].name;
            int u_silent = !u->exited && now - u->last_status_ns > SILENT_NS, v_silent = !v->exited && now - v->last_status_ns > SILENT_NS;
            const char *why = NULL;
            if (!v->exited && u->exited && v->cnt[PF_CNT_STATE] == PF_STATE_RUNNING) why = "the receiver waits for end-of-stream from a sender that has exited";
            else if (!u->exited && v->exited && u->cnt[PF_CNT_STATE] == PF_STATE_ENDING) why = "the sender waits for an acknowledgement from a receiver that has exited";
            else if (!u->exited && v->exited && u->cnt[PF_CNT_STATE] == PF_STATE_RUNNING) why = "the receiver has exited before its sender ended";
            else if (u_silent || v_silent) why = "one side sends no status (stopped?)";
            if (why)
                len += snprintf(what + len, sizeof what - (size_t)len, "\n  %s.%d -> %s.%d: %s", un, u->replica, vn, v->replica, why);
        }
    if (!len)
        for (int b = 0; b < nk && len < (int)sizeof what - 200; b++) {
            child_t *v = &kids[b];
            if (v->exited || v->cnt[PF_CNT_STATE] != PF_STATE_RUNNING) continue;
            for (int a = 0; a < nk; a++)
                if (any_edge(g, kids[a].node, v->node) && !kids[a].exited) {
                    len += snprintf(what + len, sizeof what - (size_t)len, "\n  %s.%d -> %s.%d: the receiver waits for input",
                                    g->nodes[kids[a].node].name, kids[a].replica, g->nodes[v->node].name, v->replica);
                    break;
                }
        }
    pf_warn("no progress for %.0f s while nodes wait on each other:%s", secs, len ? what : " (no edge identified)");
}

int pf_launch(const pf_graph *g, const pf_launch_opts *opts)
{
    const char *exe = opts->exe ? opts->exe : "/proc/self/exe";
    char exe_path[1024];
    ssize_t el = readlink(exe, exe_path, sizeof exe_path - 1);
    if (el > 0) { exe_path[el] = 0; exe = exe_path; }

    /* A private socket folder per run, so two runs of one graph never collide. */
    char ipc_dir[512], status_ep[600];
    if (pf_ipcdir_prepare(g->ipc_dir, (int)getpid(), ipc_dir, sizeof ipc_dir)) {
        pf_error("%s", pf_errmsg());
        return 1;
    }
    snprintf(status_ep, sizeof status_ep, "ipc://%s/status", ipc_dir);

    void *ctx = zmq_ctx_new();
    void *st = zmq_socket(ctx, ZMQ_PULL);
    int64_t maxmsg = 1 << 20; /* a status is a few hundred bytes */
    zmq_setsockopt(st, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (zmq_bind(st, status_ep)) {
        pf_error("cannot bind the status socket %s: %s", status_ep, zmq_strerror(zmq_errno()));
        zmq_close(st);
        zmq_ctx_term(ctx);
        return 1;
    }

    int total = 0;
    for (int n = 0; n < g->n_nodes; n++) total += g->nodes[n].replicas;
    child_t *kids = calloc((size_t)total + 1, sizeof *kids);
    g_inst_state = calloc((size_t)total + 1, sizeof *g_inst_state);
    g_any_protected = 0;
    for (int n = 0; n < g->n_nodes; n++) g_any_protected |= g->nodes[n].restart > 0;
    int nk = 0;
    for (int n = 0; n < g->n_nodes; n++) {
        for (int r = 0; r < g->nodes[n].replicas; r++)
            if (!opts->host || !strcmp(pf_graph_instance_host(g, n, r), opts->host)) kids[nk++] = (child_t){.node = n, .replica = r};
    }
    if (!nk) {
        pf_error("no node of %s is placed on host '%s'", g->path, opts->host ? opts->host : "");
        free(kids);
        free(g_inst_state);
        zmq_close(st);
        zmq_ctx_term(ctx);
        pf_ipcdir_remove(ipc_dir);
        return 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* on several hosts: find the neighbouring hosts' launchers, or name the missing ones */
    pf_presence *pres = opts->host ? pf_presence_create(g, opts->host) : NULL;
    if (opts->host && !pres) {
        pf_error("%s", pf_errmsg());
        free(kids);
        free(g_inst_state);
        zmq_close(st);
        zmq_ctx_term(ctx);
        pf_ipcdir_remove(ipc_dir);
        return 1;
    }
    /* the nodes' statuses, re-published (after validation) for in-graph observers:
     * the dashboard draws the node counters and the trainer's loss curves from them */
    char pub_ep[620];
    snprintf(pub_ep, sizeof pub_ep, "%s.pub", status_ep);
    void *pub = zmq_socket(ctx, ZMQ_PUB);
    if (pub && zmq_bind(pub, pub_ep)) {
        pf_warn("cannot bind %s (%s): node statuses are not re-published", pub_ep, zmq_strerror(zmq_errno()));
        zmq_close(pub);
        pub = NULL;
    }
    int pres_up = 0;
    uint64_t t_start = pf_now_ns();
    for (int i = 0; i < nk; i++) {
        kids[i].last_status_ns = t_start;
        kids[i].pid = spawn(exe, g, &kids[i], ipc_dir, status_ep, opts->resume);
        kids[i].started_ns = pf_now_ns();
        if (kids[i].pid < 0) {
            pf_error("fork failed: %s", strerror(errno));
            kids[i].exited = 1;
            kids[i].status = 1 << 8;
        }
    }
    pf_info("started %d process(es) for graph %s%s%s", nk, g->name, opts->host ? " on host " : "", opts->host ? opts->host : "");

    int tty = isatty(2), failed = 0, stopping = 0, running = nk, sources_stopped = 0, restarts_pending = 0;
    char failed_what[256] = "";
    uint64_t last_line = pf_now_ns(), last_republish = last_line, stop_at = 0, last_progress = last_line, progress_sum = 0, last_stall_warn = 0;
    double line_every = tty ? 1.0 : 2.0;
    while (running > 0 || restarts_pending > 0) {
        zmq_pollitem_t it = {st, 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, 100);
        /* restart = N: start a failed instance again once its back-off has passed */
        for (int i = 0; i < nk; i++) {
            child_t *c = &kids[i];
            if (!c->restart_pending || (!stopping && pf_now_ns() < c->restart_at)) continue;
            c->restart_pending = 0;
            restarts_pending--;
            int rank = pf_graph_rank(g, c->node, c->replica);
            if (stopping || upstream_done(g, c->node)) { notify(kids, nk, pres, rank, PF_DEATH_FINAL, 0); continue; }
            c->exited = 0;
            c->have_status = 0;
            c->last_status_ns = pf_now_ns();
            memset(c->cnt, 0, sizeof c->cnt);
            memset(c->prev, 0, sizeof c->prev);
            c->pid = spawn(exe, g, c, ipc_dir, status_ep, opts->resume);
            if (c->pid < 0) {
                pf_error("fork failed: %s", strerror(errno));
                c->exited = 1;
                notify(kids, nk, pres, rank, PF_DEATH_FINAL, 0);
                continue;
            }
            running++;
            c->started_ns = pf_now_ns();
            replay_deaths(total, c->pid);
            c->exited = 1; /* the new process is told about itself by nobody */
            notify(kids, nk, pres, rank, PF_DEATH_BACK, 0);
            c->exited = 0;
            if (tty && !opts->quiet) fprintf(stderr, "\n");
            pf_info("restarted node '%s' replica %d (pid %d, restart %d of %d)", g->nodes[c->node].name, c->replica, (int)c->pid,
                    c->restarts, g->nodes[c->node].restart);
        }
        /* death notices from the launchers of other hosts */
        int notice;
        while (pf_presence_take_notice(pres, &notice)) {
            int rank = notice & 0xffffff, what = (notice >> 24) & 0x7f;
            if (rank >= total || what > PF_DEATH_DONE) continue;
            for (int i = 0; i < nk && what == PF_DEATH_FINAL; i++) {
                child_t *c = &kids[i];
                if (pf_graph_rank(g, c->node, c->replica) != rank || c->exited || c->fenced) continue;
                /* only a neighbour that took this host as dead speaks of our instances: the
                 * others redeliver what it holds, so it must not deliver it too */
                c->fenced = 1;
                kill(c->pid, SIGKILL);
                if (tty && !opts->quiet) fprintf(stderr, "\n");
                pf_warn("node '%s' replica %d was taken as dead by a neighbouring host (no heartbeat from this host for %.1f s, "
                        "heartbeat_timeout): stopped here, its windows go to the replicas elsewhere", g->nodes[c->node].name,
                        c->replica, g->heartbeat_timeout);
            }
            /* a death is final: passed on once (flooding stops where it is known), so that
             * hosts that see each other but not the dead one still agree */
            notify(kids, nk, pres, rank, what, !(what == PF_DEATH_FINAL && g_inst_state[rank] != INST_GONE));
        }
        /* whole-host death: a neighbouring launcher fell silent */
        for (int h; (h = pf_presence_dead(pres)) >= 0;) {
            if (tty && !opts->quiet) fprintf(stderr, "\n");
            pf_warn("host '%s' (%s) sent no heartbeat for %.1f s (heartbeat_timeout): its launcher and nodes are taken as dead",
                    g->hosts[h].name, g->hosts[h].addr, g->heartbeat_timeout);
            char why[256];
            if (host_died(g, kids, nk, pres, h, why, sizeof why) && !failed && !stopping) {
                failed = 1;
                snprintf(failed_what, sizeof failed_what, "%s", why);
                pf_error("%s; stopping the graph", failed_what);
                stopping = 1;
                stop_at = pf_now_ns();
                signal_all(kids, nk, SIGTERM);
            }
        }
        pf_msg *m;
        while (pf_wire_recv(st, &m, ZMQ_DONTWAIT, NULL) == PF_OK) pass_status(pub, take_status(kids, nk, g, m), m);
        /* a node that needs no more input (a trainer at its step count): end the
         * stream at its start, so every node drains and finishes cleanly */
        for (int i = 0; i < nk && !sources_stopped; i++) {
            if (kids[i].exited || kids[i].cnt[PF_CNT_STATE] != PF_STATE_INPUT_DONE) continue;
            sources_stopped = 1;
            pf_info("%s.%d needs no more input: stopping the sources", g->nodes[kids[i].node].name, kids[i].replica);
            for (int j = 0; j < nk; j++)
                if (!kids[j].exited && is_source(g, kids[j].node) && kids[j].pid > 0) kill(kids[j].pid, SIGTERM);
        }
        if (g_interrupt && !stopping) {
            stopping = 1;
            stop_at = pf_now_ns();
            if (tty && !opts->quiet) fprintf(stderr, "\n");
            pf_info("stopping: asking every node to drain and exit");
            signal_all(kids, nk, SIGTERM);
        }
        if (g_interrupt >= 2 && stopping != 2) {
            stopping = 2;
            pf_warn("second interrupt: killing every node now");
            signal_all(kids, nk, SIGKILL);
        }
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            for (int i = 0; i < nk; i++) {
                child_t *c = &kids[i];
                if (c->pid != pid || c->exited) continue;
                c->exited = 1;
                c->status = status;
                running--;
                int bad = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
                int rank = pf_graph_rank(g, c->node, c->replica), prot = pf_graph_protected(g, c->node);
                char how[64];
                if (WIFEXITED(status)) snprintf(how, sizeof how, "failed (exit code %d)", WEXITSTATUS(status));
                else snprintf(how, sizeof how, "was killed by signal %d", WTERMSIG(status));
                if (c->fenced) { /* already dead to every host: no notice, no restart */
                    if (!failed) {
                        failed = 1;
                        snprintf(failed_what, sizeof failed_what, "node '%s' replica %d was taken as dead by a neighbouring host "
                                 "(heartbeat_timeout %.1f s) and stopped", g->nodes[c->node].name, c->replica, g->heartbeat_timeout);
                    }
                    continue;
                }
                if (!bad) notify(kids, nk, pres, rank, PF_DEATH_DONE, 0);
                if (bad && prot && !stopping && c->restarts < g->nodes[c->node].restart && !upstream_done(g, c->node)) {
                    /* back-off doubles from 0.5 s up to 8 s: a crash loop does not spin; an
                     * instance that ran for a minute starts again from 0.5 s */
                    if (pf_now_ns() - c->started_ns > 60000000000ull) c->streak = 0;
                    double wait_s = 0.5 * (double)(1u << (c->streak < 4 ? c->streak : 4));
                    c->streak++;
                    c->restarts++;
                    c->restart_pending = 1;
                    c->restart_at = pf_now_ns() + (uint64_t)(wait_s * 1e9);
                    restarts_pending++;
                    notify(kids, nk, pres, rank, PF_DEATH_RESTARTING, 0);
                    if (tty && !opts->quiet) fprintf(stderr, "\n");
                    pf_warn("node '%s' replica %d %s: restarting it in %.1f s (restart %d of %d); its unacknowledged windows go to the other replicas",
                            g->nodes[c->node].name, c->replica, how, wait_s, c->restarts, g->nodes[c->node].restart);
                    continue;
                }
                if (bad) notify(kids, nk, pres, rank, PF_DEATH_FINAL, 0);
                if (bad && prot && !stopping && (replica_left(g, c->node, c->replica) || upstream_done(g, c->node))) {
                    if (tty && !opts->quiet) fprintf(stderr, "\n");
                    pf_warn("node '%s' replica %d %s%s: its unacknowledged windows go to the other replicas", g->nodes[c->node].name,
                            c->replica, how, upstream_done(g, c->node) ? " after its upstream ended (nothing to redo)"
                                             : g->nodes[c->node].restart ? " and has no restart left" : "");
                    continue;
                }
                if (bad && !failed && !(stopping && !failed_what[0] && WIFSIGNALED(status))) {
                    failed = 1;
                    if (WIFEXITED(status))
                        snprintf(failed_what, sizeof failed_what, "node '%s' replica %d failed (exit code %d)", g->nodes[c->node].name, c->replica, WEXITSTATUS(status));
                    else
                        snprintf(failed_what, sizeof failed_what, "node '%s' replica %d was killed by signal %d", g->nodes[c->node].name, c->replica, WTERMSIG(status));
                    if (tty && !opts->quiet) fprintf(stderr, "\n");
                    pf_error("%s; stopping the graph", failed_what);
                    if (!stopping) { stopping = 1; stop_at = pf_now_ns(); signal_all(kids, nk, SIGTERM); }
                }
            }
        }
        uint64_t now = pf_now_ns();
        int missing = pres ? pf_presence_poll(pres) : 0;
        if (pres && !missing && !pres_up) {
            pres_up = 1;
            pf_info("all %d neighbouring host(s) are up", pf_presence_peers(pres));
        }
        if (missing && !pres_up && !failed && !stopping && now - t_start > (uint64_t)(g->host_timeout * 1e9)) {
            char who[160];
            pf_presence_missing(pres, who, sizeof who);
            failed = 1;
            snprintf(failed_what, sizeof failed_what, "host(s) %s did not come up within %.0f s (host_timeout)", who, g->host_timeout);
            if (tty && !opts->quiet) fprintf(stderr, "\n");
            pf_error("%s; stopping the graph", failed_what);
            stopping = 1;
            stop_at = now;
            signal_all(kids, nk, SIGTERM);
        }
        /* A failed graph has lost data already: give its nodes a short grace.
         * A user's stop lets them drain. */
        double grace = g->drain_timeout + 5.0; /* survivors were told who died, so they end by themselves */
        if (stopping && now - stop_at > (uint64_t)(grace * 1e9)) {
            pf_warn("nodes still running %.0f s after the stop request: killing them", grace);
            signal_all(kids, nk, SIGKILL);
            stop_at = now; /* don't repeat every iteration */
        }
        uint64_t sum = 0;
        int free_source = 0;
        for (int i = 0; i < nk; i++) {
            sum += kids[i].cnt[PF_CNT_MSGS_IN] + kids[i].cnt[PF_CNT_MSGS_OUT] + kids[i].cnt[PF_CNT_STATE];
            free_source |= !kids[i].exited && is_source(g, kids[i].node) && kids[i].producing && now - kids[i].last_status_ns < SILENT_NS;
            /* a node computing one long step is progress, not a stall */
            free_source |= !kids[i].exited && kids[i].cnt[PF_CNT_STATE] == PF_STATE_BUSY && now - kids[i].last_status_ns < SILENT_NS;
        }
        if (sum != progress_sum || free_source || running == 0) { progress_sum = sum; last_progress = now; }
        if (g->stall_warn > 0 && now - last_progress > (uint64_t)(g->stall_warn * 1e9) &&
            now - last_stall_warn > (uint64_t)(g->stall_warn * 1e9)) {
            if (tty && !opts->quiet) fprintf(stderr, "\n");
            report_stall(g, kids, nk, (double)(now - last_progress) / 1e9);
            last_stall_warn = now;
        }
        if (now - last_republish > 2000000000ull) { republish_ended(pub, g, kids, nk); last_republish = now; }
        if (!opts->quiet && (double)(now - last_line) / 1e9 >= line_every && running > 0) {
            status_line(g, kids, nk, (double)(now - last_line) / 1e9, tty);
            last_line = now;
        }
    }
    if (tty && !opts->quiet) fprintf(stderr, "\n");
    /* final statuses may still be queued */
    pf_msg *m;
    while (pf_wire_recv(st, &m, ZMQ_DONTWAIT, NULL) == PF_OK) pass_status(pub, take_status(kids, nk, g, m), m);
    double secs = (double)(pf_now_ns() - t_start) / 1e9;
    if (!opts->quiet || failed) summary(g, kids, nk, secs);
    int linger = 0;
    zmq_setsockopt(st, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(st);
    if (pub) { zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof linger); zmq_close(pub); }
    zmq_ctx_term(ctx);
    pf_ipcdir_remove(ipc_dir);
    pf_presence_destroy(pres);
    free(kids);
    free(g_inst_state);
    g_inst_state = NULL;
    if (failed) { pf_error("graph %s failed: %s", g->name, failed_what); return 1; }
    if (g_interrupt) { pf_info("graph %s stopped by request", g->name); return 130; }
    return 0;
}
