/* pf_presence: the launchers of a multi-host graph find each other, so a
 * host that never comes up is reported by name (host_timeout) instead of
 * leaving its neighbours waiting forever.
 *
 * `physioflow run FILE --host H` binds a ROUTER at H's address on port
 * base_port + (input ports of all instances) + H's index, with the graph's
 * CURVE keys, and says hello to every host that shares an edge with H until
 * each has answered. It keeps answering hellos for the whole run, and sends
 * a heartbeat to each neighbour a few times per heartbeat_timeout: a host
 * whose launcher falls silent (killed with all its nodes, link cut) is
 * declared dead, and its instances with it (pf_launch.c). */
#ifndef PF_PRESENCE_H
#define PF_PRESENCE_H

#include "pf_graph.h"

typedef struct pf_presence pf_presence;

/* NULL with pf_err set on failure; an object with no peers when H shares
 * no edge with another host. */
pf_presence *pf_presence_create(const pf_graph *g, const char *host);
/* Non-blocking: answer hellos, collect answers, re-send hellos once a second.
 * Returns the number of peer hosts not heard from yet. */
int pf_presence_poll(pf_presence *p);
/* "'a' (tcp://10.0.0.1:5612), 'b' (...)": the peers not heard from. */
void pf_presence_missing(const pf_presence *p, char *buf, size_t cap);
int pf_presence_peers(const pf_presence *p);
/* Whole-host death: the index of a neighbouring host that was up, did not
 * say bye, and sent no heartbeat for the graph's heartbeat_timeout (each
 * host is reported once), or -1. */
int pf_presence_dead(pf_presence *p);
/* Says bye to the neighbours (a clean exit is not a death) and waits up to
 * a second for that and the last notices to go out. */
void pf_presence_destroy(pf_presence *p);
/* Death notices across hosts (pf_node.h, PF_NOTICE values): tell the
 * neighbouring hosts' launchers, which pass them to their nodes; and take
 * the next one that arrived (1), or 0. */
void pf_presence_announce(pf_presence *p, int notice);
int pf_presence_take_notice(pf_presence *p, int *notice);
/* Port of host index h's presence socket. */
int pf_presence_port(const pf_graph *g, int host_index);

#endif
