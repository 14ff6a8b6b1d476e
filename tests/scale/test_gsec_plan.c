/* Planning across hosts with keys: host lists place replicas, endpoints are
 * ipc or tcp per replica, each process's security plan names its secret, the
 * admitted keys and the server key of every CURVE connection; insecure = true
 * plans none; a missing secret is named with its config line. */
#include "../pf_test.h"
#include "pf_error.h"
#include "pf_graph.h"
#include "registry.h"
#include "pf_graph_security.h"
#include "pf_security.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static const char *GRAPH =
    "name = \"gp\";\n"
    "base_port = 7000;\n"
    "%s\n"
    "hosts = { a = { address = \"127.0.0.1\"; cert = \"a.cert\"; };\n"
    "          b = { address = \"127.0.0.2\"; cert = \"b.cert\"; }; };\n"
    "nodes = ( { name = \"src\"; kind = \"synth\"; host = \"a\"; },\n"
    "  { name = \"aug\"; kind = \"passthrough\"; replicas = 3; host = [\"a\", \"b\"]; },\n"
    "  { name = \"sink\"; kind = \"discard\"; host = \"b\"; } );\n"
    "edges = ( { from = \"src\"; to = \"aug\"; }, { from = \"aug\"; to = \"sink\"; } );\n";

int main(void)
{
    char dir[] = "/tmp/pf-gsec-XXXXXX", path[256], cfg[4096];
    if (!mkdtemp(dir)) return 1;
    if (chdir(dir)) return 1;
    CHECK(pf_security_keygen("a.cert") == PF_OK && pf_security_keygen("b.cert") == PF_OK, "keygen: %s", pf_errmsg());
    char ka[41], kb[41];
    pf_security_public_key("a.cert", ka);
    pf_security_public_key("b.cert", kb);
    snprintf(cfg, sizeof cfg, GRAPH, "");
    snprintf(path, sizeof path, "%s/gp.cfg", dir);
    write_file(path, cfg);
    pf_diag d = {0};
    pf_graph *g = pf_graph_load(path, &(pf_graph_opts){.kinds = pf_kinds}, &d);
    pf_diag_print(&d, stderr);
    CHECK(g != NULL, "graph loads");
    if (!g) return pf_test_done();
    CHECK(!strcmp(pf_graph_instance_host(g, 1, 0), "a") && !strcmp(pf_graph_instance_host(g, 1, 1), "b") &&
          !strcmp(pf_graph_instance_host(g, 1, 2), "a"), "aug replicas 0, 2 on a, 1 on b");

    pf_instance in;
    CHECK(pf_graph_plan(g, "src", 0, "/tmp/pfx", NULL, &in) == PF_OK, "plan src: %s", pf_errmsg());
    CHECK(in.n_out == 1 && !strncmp(in.out[0].connect[0], "ipc://", 6) && !strncmp(in.out[0].connect[1], "tcp://127.0.0.2:", 16) &&
          !strncmp(in.out[0].connect[2], "ipc://", 6), "src reaches aug.0, aug.2 by ipc and aug.1 by tcp");
    const pf_sec_plan *sp = in.security;
    CHECK(sp && sp->curve && strstr(sp->secret_cert, "a.cert") && sp->n_allowed == 2, "src: CURVE with host a's key, 2 admitted keys");
    CHECK(sp && sp->n_peers == 1 && !strcmp(sp->peers[0].endpoint, in.out[0].connect[1]) && !strcmp(sp->peers[0].server_key, kb),
          "only the tcp peer (aug.1 on b) is CURVE, with b's public key");
    pf_graph_plan_free(&in);

    CHECK(pf_graph_plan(g, "aug", 0, "/tmp/pfx", NULL, &in) == PF_OK, "plan aug.0");
    CHECK(in.n_in == 1 && in.in[0].n_bind == 1 && !strncmp(in.in[0].bind[0], "ipc://", 6), "aug.0 (on a, fed from a) binds ipc only");
    CHECK(in.out[0].n_peers == 1 && !strncmp(in.out[0].connect[0], "tcp://127.0.0.2:", 16), "aug.0 reaches the sink on b by tcp");
    sp = in.security;
    CHECK(sp && sp->n_peers == 1 && !strcmp(sp->peers[0].server_key, kb), "aug.0 -> sink: CURVE with b's key");
    pf_graph_plan_free(&in);

    CHECK(pf_graph_plan(g, "aug", 1, "/tmp/pfx", NULL, &in) == PF_OK, "plan aug.1");
    CHECK(in.in[0].n_bind == 1 && !strncmp(in.in[0].bind[0], "tcp://127.0.0.2:", 16), "aug.1 (on b, fed from a) binds tcp");
    sp = in.security;
    CHECK(sp && strstr(sp->secret_cert, "b.cert") && sp->n_peers == 1 && !strncmp(sp->peers[0].endpoint, "ipc://", 6) &&
          !strcmp(sp->peers[0].server_key, kb), "aug.1 -> sink over ipc is CURVE too (the sink's socket takes tcp): %s",
          sp && sp->n_peers ? sp->peers[0].endpoint : "none");
    pf_graph_plan_free(&in);

    /* a missing secret: named with the host's line */
    char sec[300];
    snprintf(sec, sizeof sec, "%s/b.cert_secret", dir);
    rename(sec, "b.hidden");
    CHECK(pf_graph_plan(g, "sink", 0, "/tmp/pfx", NULL, &in) != PF_OK && strstr(pf_errmsg(), "gp.cfg:5: host 'b': secret key"),
          "missing secret named with its line: %s", pf_errmsg());
    pf_graph_plan_free(&in);
    rename("b.hidden", sec);
    pf_graph_destroy(g);

    snprintf(cfg, sizeof cfg, GRAPH, "insecure = true;");
    write_file(path, cfg);
    g = pf_graph_load(path, &(pf_graph_opts){.kinds = pf_kinds}, &d);
    CHECK(g && pf_graph_plan(g, "src", 0, "/tmp/pfx", NULL, &in) == PF_OK && in.security == NULL, "insecure = true: no security plan");
    pf_graph_plan_free(&in);
    pf_graph_destroy(g);
    pf_diag_free(&d);
    unlink("a.cert"); unlink("a.cert_secret"); unlink("b.cert"); unlink("b.cert_secret"); unlink(path);
    if (chdir("/") == 0) rmdir(dir);
    return pf_test_done();
}
