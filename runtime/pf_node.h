/* pf_node: the life of one node instance (one OS process).
 *
 * A node kind is a pf_kind: a parameter schema, ports, and callbacks in the
 * create / process / destroy style. graph/ turns a config file into a
 * pf_instance (parameters with defaults, endpoints to bind and connect, how
 * many end-of-stream messages to expect); pf_node_run() then binds/connects,
 * runs the loop, forwards end-of-stream, drains on SIGINT/SIGTERM, and keeps
 * the counters the launcher displays.
 *
 * Sources (no input ports) get produce() called until it returns 1 (done).
 * Other nodes get process() for every valid message; finish() when every
 * upstream instance has sent end-of-stream. A callback returns PF_OK, or a
 * negative PF_E* after pf_err(): the node then fails (exit code 1).
 */
#ifndef PF_NODE_H
#define PF_NODE_H

#include "pf_params.h"
#include "pf_wire.h"

#include <stdint.h>

typedef struct pf_node pf_node;

enum { PF_PORT_IN = 1, PF_PORT_OUT = 2 };
/* Delivery policy of an edge. */
enum { PF_POLICY_BLOCK = 0, /* lossless: block at the high-water mark (default) */
       PF_POLICY_DROP = 1   /* live: never block; a message no peer can take is dropped and counted */ };

typedef struct {
    const char *name;  /* "in", "out", ... */
    int dir;           /* PF_PORT_IN / PF_PORT_OUT */
    int msg;           /* PF_MSG_WINDOW or PF_MSG_TENSOR: what flows through it */
    int optional;      /* may be left unconnected */
    const char *doc;
} pf_port_spec;

typedef struct pf_kind {
    const char *name;
    const char *doc;                 /* one line */
    const pf_param_spec *params;     /* terminated by an entry with name NULL */
    const pf_port_spec *ports;       /* terminated by an entry with name NULL */
    int (*create)(pf_node *node, void **state);
    int (*produce)(pf_node *node, void *state);                      /* sources: 0 more, 1 done */
    int (*process)(pf_node *node, void *state, const char *in_port, pf_msg *msg); /* msg is borrowed */
    int (*finish)(pf_node *node, void *state, int interrupted);      /* all inputs ended */
    void (*destroy)(void *state);
} pf_kind;

/* --- the plan of one instance, filled by graph/ --------------------------- */
#define PF_MAX_PORTS 8
#define PF_MAX_EDGES 16
#define PF_MAX_PEERS 64

typedef struct {
    const char *port;
    int n_bind;
    const char *bind[2];      /* ipc and/or tcp endpoint */
    int eos_expected;         /* upstream instances feeding this port */
    int hwm;
} pf_in_plan;

typedef struct {
    const char *port;         /* our output port */
    const char *to;           /* "node.port" for logs */
    int policy;
    int hwm;
    int n_peers;              /* downstream replicas: one PUSH socket each */
    const char *connect[PF_MAX_PEERS];
} pf_out_plan;

typedef struct {
    const char *graph_name;
    const char *node;
    const pf_kind *kind;
    int replica, replicas;
    uint64_t seed;
    pf_params *params;
    int n_in;
    pf_in_plan in[PF_MAX_PORTS];
    int n_out;
    pf_out_plan out[PF_MAX_EDGES];
    const char *status_endpoint; /* launcher's PULL socket, or NULL */
    double drain_timeout;        /* seconds to wait for end-of-stream after a stop request */
} pf_instance;

/* Run the instance to completion. Returns the process exit code. */
int pf_node_run(const pf_instance *inst);

/* --- for node kinds ------------------------------------------------------ */
const pf_params *pf_node_params(const pf_node *n);
const char *pf_node_name(const pf_node *n);
int pf_node_replica(const pf_node *n);
int pf_node_replicas(const pf_node *n);
uint64_t pf_node_seed(const pf_node *n);
const char *pf_node_graph_name(const pf_node *n);
/* 1 once a stop was requested (sources should stop producing). */
int pf_node_stopping(const pf_node *n);

/* Send on an output port: copies go to every edge of the port; within an
 * edge the message goes to one downstream replica (load balanced). Takes
 * ownership of m. Blocks under backpressure (policy block) or drops and
 * counts (policy drop). */
int pf_node_send(pf_node *n, const char *port, pf_msg *m);

/* Messages dropped so far by policy "drop" edges (a node can attribute drops, e.g. per bed). */
uint64_t pf_node_dropped(const pf_node *n);

/* Kind-specific counters, shown by the launcher ("beats_shuffled", ...). */
void pf_node_count(pf_node *n, const char *counter, uint64_t delta);

/* Counter slots carried in status messages (u64 [PF_CNT_N + custom]). */
enum {
    PF_CNT_MSGS_IN, PF_CNT_BYTES_IN, PF_CNT_MSGS_OUT, PF_CNT_BYTES_OUT,
    PF_CNT_DROPPED, PF_CNT_MALFORMED, PF_CNT_BLOCKED_NS, PF_CNT_UPTIME_NS,
    PF_CNT_STATE, PF_CNT_LOST, PF_CNT_N
};
enum { PF_STATE_RUNNING = 0, PF_STATE_DONE = 1, PF_STATE_FAILED = 2, PF_STATE_INTERRUPTED = 3 };
#define PF_MAX_CUSTOM_COUNTERS 8

/* Monotonic clock in nanoseconds. */
uint64_t pf_now_ns(void);

#endif
