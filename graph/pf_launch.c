#include "pf_launch.h"

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
    int n_custom, have_status;
} child_t;

static volatile sig_atomic_t g_interrupt;
static void on_signal(int sig) { (void)sig; g_interrupt++; }

/* Remove the run's socket folder: only socket files directly inside it. */
static void remove_ipc_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[1024];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (!lstat(path, &st) && S_ISSOCK(st.st_mode)) unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static void mkdir_p(const char *dir)
{
    char p[512];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') { *s = 0; mkdir(p, 0700); *s = '/'; }
    mkdir(p, 0700);
}

static pid_t spawn(const char *exe, const pf_graph *g, const child_t *c, const char *ipc_dir, const char *status_ep)
{
    char rep[16];
    snprintf(rep, sizeof rep, "%d", c->replica);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0) return pid;
    /* child: die with the launcher, whatever kills it, so nothing is orphaned */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    /* own process group: a terminal Ctrl-C reaches only the launcher, which
     * asks each node once to drain (a second signal makes a node quit at once) */
    setpgid(0, 0);
    char *argv[] = {(char *)exe, "node", g->path, g->nodes[c->node].name, "--replica", rep,
                    "--ipc-dir", (char *)ipc_dir, "--status", (char *)status_ep, NULL};
    execv(exe, argv);
    fprintf(stderr, "physioflow: cannot exec %s: %s\n", exe, strerror(errno));
    _exit(127);
}

static void take_status(child_t *kids, int nk, const pf_graph *g, pf_msg *m)
{
    const pf_section *names = pf_msg_find_const(m, PF_SEC_NAME), *vals = pf_msg_find_const(m, PF_SEC_COUNTERS);
    if (!names || !vals || strcmp(m->id, "status")) return;
    char buf[512];
    size_t len = names->bytes < sizeof buf - 1 ? names->bytes : sizeof buf - 1;
    memcpy(buf, names->data, len);
    buf[len] = 0;
    char *nl = strchr(buf, '\n');
    if (!nl) return;
    *nl = 0;
    int node = pf_graph_find(g, buf);
    for (int i = 0; i < nk; i++) {
        child_t *c = &kids[i];
        if (c->node != node || (uint64_t)c->replica != m->count) continue;
        size_t nv = pf_section_count(vals);
        if (nv > PF_CNT_N + PF_MAX_CUSTOM_COUNTERS) nv = PF_CNT_N + PF_MAX_CUSTOM_COUNTERS;
        memcpy(c->cnt, vals->data, nv * sizeof(uint64_t));
        c->n_custom = 0;
        char *save = NULL;
        for (char *t = strtok_r(nl + 1, ",", &save); t && c->n_custom < (int)nv - PF_CNT_N; t = strtok_r(NULL, ",", &save))
            snprintf(c->custom[c->n_custom++], sizeof c->custom[0], "%s", t);
        c->have_status = 1;
    }
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
        if (reps > 1) snprintf(label, sizeof label, "%s x%d", g->nodes[n].name, reps);
        else snprintf(label, sizeof label, "%s", g->nodes[n].name);
        len += snprintf(line + len, sizeof line - (size_t)len, "%s%s: %.0f win/s %.1f MB/s bp %.0f%%", len ? " | " : "",
                        label, (double)msgs / dt, (double)bytes / dt / 1e6, bp > 100 ? 100 : bp);
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
        for (int k = 0; k < c->n_custom; k++) fprintf(stderr, " %s=%llu", c->custom[k], (unsigned long long)c->cnt[PF_CNT_N + k]);
        fprintf(stderr, "\n");
    }
    fprintf(stderr, "ran %.2f s\n", secs);
}

static void signal_all(child_t *kids, int nk, int sig)
{
    for (int i = 0; i < nk; i++)
        if (!kids[i].exited) kill(kids[i].pid, sig);
}

int pf_launch(const pf_graph *g, const pf_launch_opts *opts)
{
    const char *exe = opts->exe ? opts->exe : "/proc/self/exe";
    char exe_path[1024];
    ssize_t el = readlink(exe, exe_path, sizeof exe_path - 1);
    if (el > 0) { exe_path[el] = 0; exe = exe_path; }

    /* A private socket folder per run, so two runs of one graph never collide. */
    char ipc_dir[512], status_ep[600];
    snprintf(ipc_dir, sizeof ipc_dir, "%s-%d", g->ipc_dir, (int)getpid());
    mkdir_p(ipc_dir);
    snprintf(status_ep, sizeof status_ep, "ipc://%s/status", ipc_dir);

    void *ctx = zmq_ctx_new();
    void *st = zmq_socket(ctx, ZMQ_PULL);
    if (zmq_bind(st, status_ep)) {
        pf_error("cannot bind the status socket %s: %s", status_ep, zmq_strerror(zmq_errno()));
        zmq_close(st);
        zmq_ctx_term(ctx);
        return 1;
    }

    int total = 0;
    for (int n = 0; n < g->n_nodes; n++) total += g->nodes[n].replicas;
    child_t *kids = calloc((size_t)total + 1, sizeof *kids);
    int nk = 0;
    for (int n = 0; n < g->n_nodes; n++) {
        for (int r = 0; r < g->nodes[n].replicas; r++)
            if (!opts->host || !strcmp(pf_graph_instance_host(g, n, r), opts->host)) kids[nk++] = (child_t){.node = n, .replica = r};
    }
    if (!nk) {
        pf_error("no node of %s is placed on host '%s'", g->path, opts->host ? opts->host : "");
        free(kids);
        zmq_close(st);
        zmq_ctx_term(ctx);
        remove_ipc_dir(ipc_dir);
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
        zmq_close(st);
        zmq_ctx_term(ctx);
        remove_ipc_dir(ipc_dir);
        return 1;
    }
    int pres_up = 0;
    uint64_t t_start = pf_now_ns();
    for (int i = 0; i < nk; i++) {
        kids[i].pid = spawn(exe, g, &kids[i], ipc_dir, status_ep);
        if (kids[i].pid < 0) {
            pf_error("fork failed: %s", strerror(errno));
            kids[i].exited = 1;
            kids[i].status = 1 << 8;
        }
    }
    pf_info("started %d process(es) for graph %s%s%s", nk, g->name, opts->host ? " on host " : "", opts->host ? opts->host : "");

    int tty = isatty(2), failed = 0, stopping = 0, running = nk;
    char failed_what[256] = "";
    uint64_t last_line = pf_now_ns(), stop_at = 0;
    double line_every = tty ? 1.0 : 2.0;
    while (running > 0) {
        zmq_pollitem_t it = {st, 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, 100);
        pf_msg *m;
        while (pf_wire_recv(st, &m, ZMQ_DONTWAIT, NULL) == PF_OK) { take_status(kids, nk, g, m); pf_msg_destroy(m); }
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
        double grace = failed ? 2.0 : g->drain_timeout + 5.0;
        if (stopping && now - stop_at > (uint64_t)(grace * 1e9)) {
            pf_warn("nodes still running %.0f s after the stop request: killing them", grace);
            signal_all(kids, nk, SIGKILL);
            stop_at = now; /* don't repeat every iteration */
        }
        if (!opts->quiet && (double)(now - last_line) / 1e9 >= line_every && running > 0) {
            status_line(g, kids, nk, (double)(now - last_line) / 1e9, tty);
            last_line = now;
        }
    }
    if (tty && !opts->quiet) fprintf(stderr, "\n");
    /* final statuses may still be queued */
    pf_msg *m;
    while (pf_wire_recv(st, &m, ZMQ_DONTWAIT, NULL) == PF_OK) { take_status(kids, nk, g, m); pf_msg_destroy(m); }
    double secs = (double)(pf_now_ns() - t_start) / 1e9;
    if (!opts->quiet || failed) summary(g, kids, nk, secs);
    int linger = 0;
    zmq_setsockopt(st, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(st);
    zmq_ctx_term(ctx);
    remove_ipc_dir(ipc_dir);
    pf_presence_destroy(pres);
    free(kids);
    if (failed) { pf_error("graph %s failed: %s", g->name, failed_what); return 1; }
    if (g_interrupt) { pf_info("graph %s stopped by request", g->name); return 130; }
    return 0;
}
