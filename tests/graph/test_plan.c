/* Planning: endpoints (ipc on one host, tcp across hosts, deterministic
 * ports), end-of-stream counts with replicas, fan-out edges, policies. */
#include "../pf_test.h"
#include "pf_error.h"
#include "pf_graph.h"
#include "registry.h"

#include <string.h>

int main(int argc, char **argv)
{
    pf_diag d = {0};
    pf_graph_opts o = {.kinds = pf_kinds};
    pf_graph *g = pf_graph_load(argv[1], &o, &d);
    pf_diag_print(&d, stderr);
    CHECK(g != NULL, "plan.cfg loads");
    if (!g) return pf_test_done();
    CHECK(g->seed == 7 && g->n_nodes == 4 && g->n_edges == 3, "graph shape");

    pf_instance in;
    CHECK(pf_graph_plan(g, "p", 2, "/tmp/pfx", NULL, &in) == PF_OK, "plan p.2");
    CHECK(in.n_in == 1 && in.in[0].eos_expected == 2, "p waits for end-of-stream from both source replicas (%d)", in.in[0].eos_expected);
    CHECK(in.in[0].n_bind == 1 && !strcmp(in.in[0].bind[0], "ipc:///tmp/pfx/p.2.in"), "p.2 binds ipc (%s)", in.in[0].bind[0]);
    CHECK(in.in[0].hwm == 4, "edge hwm carried to the input (%d)", in.in[0].hwm);
    CHECK(in.n_out == 2, "p has two output edges (fan-out)");
    CHECK(in.out[0].n_peers == 1 && !strncmp(in.out[0].connect[0], "tcp://127.0.0.2:", 16), "p -> s crosses hosts: tcp (%s)", in.out[0].connect[0]);
    CHECK(in.out[1].policy == PF_POLICY_DROP && !strcmp(in.out[1].connect[0], "ipc:///tmp/pfx/d.0.in"), "p -> d is ipc with drop policy");
    char s_ep[64];
    snprintf(s_ep, sizeof s_ep, "%s", in.out[0].connect[0]);
    pf_graph_plan_free(&in);

    CHECK(pf_graph_plan(g, "s", 0, "/tmp/pfx", NULL, &in) == PF_OK, "plan s.0");
    CHECK(in.in[0].eos_expected == 3, "s waits for the 3 p replicas");
    CHECK(in.in[0].n_bind == 1 && !strcmp(in.in[0].bind[0], s_ep), "s binds the tcp endpoint p connects to (%s vs %s)", in.in[0].bind[0], s_ep);
    pf_graph_plan_free(&in);

    CHECK(pf_graph_plan(g, "src", 1, "/tmp/pfx", NULL, &in) == PF_OK, "plan src.1");
    CHECK(in.n_in == 0 && in.n_out == 1 && in.out[0].n_peers == 3, "source connects to all 3 replicas");
    for (int r = 0; r < 3; r++) {
        char want[64];
        snprintf(want, sizeof want, "ipc:///tmp/pfx/p.%d.in", r);
        CHECK(!strcmp(in.out[0].connect[r], want), "peer %d is %s", r, in.out[0].connect[r]);
    }
    pf_graph_plan_free(&in);

    CHECK(pf_graph_plan(g, "p", 3, NULL, NULL, &in) == PF_ERANGE && strstr(pf_errmsg(), "replica 3 does not exist"), "bad replica: %s", pf_errmsg());
    CHECK(pf_graph_plan(g, "nope", 0, NULL, NULL, &in) == PF_ENOTFOUND && strstr(pf_errmsg(), "'nope'"), "bad node: %s", pf_errmsg());
    CHECK(!strcmp(pf_graph_node_host(g, 2), "b"), "s placed on host b");
    pf_graph_destroy(g);
    return pf_test_done();
}
