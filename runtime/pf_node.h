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

#include <signal.h>
#include <stddef.h>
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
    int (*idle)(pf_node *node, void *state); /* optional: no input for a poll period (e.g. flush a file) */
    int (*check)(const pf_params *params);   /* optional, for `check`/`run`: files and folders exist (pf_err) */
    int per_window; /* each output depends only on the window being processed: a window a dead replica
                     * held can be redelivered to another one (acknowledged delivery, pf_deliver.h) */
} pf_kind;

/* --- the plan of one instance, filled by graph/ --------------------------- */
#define PF_MAX_PORTS 8
#define PF_MAX_EDGES 16
#define PF_MAX_PEERS 64

/* An upstream instance allowed to send to an input port: only its messages
 * (identified by the routing id its DEALER connects with) are accepted. */
typedef struct {
    const char *id;           /* "node.replica/out_port" (pf_node_route_id) */
    int rank;                 /* instance rank in the graph (launcher's death notice) */
    int redeliverable;        /* a replica of a protected node: what it held comes again through another */
} pf_sender;

typedef struct {
    const char *port;
    int n_bind;
    const char *bind[2];      /* ipc and/or tcp endpoint */
    int eos_expected;         /* upstream instances feeding this port (= entries in senders) */
    int hwm;
    const pf_sender *senders; /* eos_expected entries */
    int feedback;             /* fed by feedback edges (gradients): no end-of-stream, read with pf_node_recv */
    int acked;                /* acknowledged delivery (pf_deliver.h): ack each window, drop duplicates */
} pf_in_plan;

typedef struct {
    const char *port;         /* our output port */
    const char *to;           /* "node.port" for logs */
    int policy;
    int hwm;
    int n_peers;              /* downstream replicas: one PUSH socket each */
    const char *connect[PF_MAX_PEERS];
    int peer_rank[PF_MAX_PEERS]; /* instance rank of each downstream replica */
    int feedback;             /* a feedback edge: no end-of-stream is sent on it */
    int acked;                /* acknowledged delivery: keep each window until acked, redeliver a dead peer's */
    int redeliverable;        /* the downstream node is protected: a dead replica's windows go to another */
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
    int max_frame_mb;            /* ZMQ_MAXMSGSIZE of every socket (MiB per frame; 0 = unlimited) */
    const char *resume_dir;      /* `run --resume`: the checkpoint directory to continue from, or NULL */
    const struct pf_sec_plan *security; /* CURVE keys of tcp edges (pf_security.h), or NULL */
} pf_instance;

/* Routing id an instance's DEALER on output port `port` connects with:
 * "node.replica/port". Receivers accept data and end-of-stream only from the
 * ids their plan lists. */
void pf_node_route_id(char *buf, size_t cap, const char *node, int replica, const char *port);

/* The launcher's death notice: a real-time signal queued (sigqueue) with the rank of
 * an instance that died. Upstream of it, a node stops sending to it; downstream,
 * it stops waiting for its end-of-stream and finishes with `interrupted`. */
#define PF_SIG_DIED (SIGRTMIN + 2) /* real-time: notices sent close together are all queued (SIGUSR1 kept one) */
/* The notice's value: rank | what << 24. FINAL (0, the only one before
 * restarts existed): gone for good. RESTARTING: gone, the launcher starts it
 * again (wait for it). BACK: restarted, a new incarnation is connecting.
 * DONE: exited cleanly (a restarted sender does not wait for its ack). */
enum { PF_DEATH_FINAL = 0, PF_DEATH_RESTARTING = 1, PF_DEATH_BACK = 2, PF_DEATH_DONE = 3 };
#define PF_NOTICE(rank, what) ((int)(rank) | ((what) << 24))

/* Run the instance to completion. Returns the process exit code. */
int pf_node_run(const pf_instance *inst);

/* --- for node kinds ------------------------------------------------------ */
/* process() may return PF_DONE: this node needs no more input (a trainer that
 * reached its step count). The runtime stops calling process(), discards what
 * still arrives (counted "after_done") until every upstream has ended, and the
 * launcher stops the graph's sources so that the stream ends everywhere. */
#define PF_DONE 1
/* Checkpoint directory of `physioflow run --resume`, or NULL. */
const char *pf_node_resume_dir(const pf_node *n);
/* Blocking receive of the next data message on an input port fed by feedback
 * edges (model stages: the gradient of what this node sent downstream). The
 * message is validated and its sender checked like any input; the caller
 * destroys it. Fails when the port's senders died or, after a stop request,
 * nothing came within drain_timeout. */
int pf_node_recv(pf_node *n, const char *port, pf_msg **out);
/* From inside process(): hand every message still to come on a (non-feedback)
 * input port to process(), until all of that port's senders ended. The model
 * stages use it to have the whole validation set before they evaluate. */
int pf_node_drain(pf_node *n, const char *port);
const pf_params *pf_node_params(const pf_node *n);
const char *pf_node_name(const pf_node *n);
/* The launcher's status socket (NULL when run alone); its statuses are re-published at "<it>.pub". */
const char *pf_node_status_endpoint(const pf_node *n);
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
/* As pf_node_send, but within each edge the message goes to replica key mod
 * replicas (the next live one if that one died): messages with one key meet
 * one replica, e.g. a bed's chunks its monitor's state. Acknowledged edges
 * ignore the key (they balance by credit and move a dead replica's windows). */
int pf_node_send_keyed(pf_node *n, const char *port, pf_msg *m, uint64_t key);
/* The most downstream replicas of any edge on an output port (0: unconnected). */
int pf_node_out_replicas(const pf_node *n, const char *port);

/* A window this node cannot process (a rate it cannot filter at, contents
 * that do not fit the window): counted under `reason` and as dropped, logged
 * (throttled), and PF_OK returned so the node carries on:
 *   return pf_node_reject(n, "bad_rate", m, "no filter at %g Hz", fs); */
int pf_node_reject(pf_node *n, const char *reason, const pf_msg *m, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Messages dropped so far by policy "drop" edges (a node can attribute drops, e.g. per bed). */
uint64_t pf_node_dropped(const pf_node *n);

/* Kind-specific counters, shown by the launcher ("beats_shuffled", ...). */
void pf_node_count(pf_node *n, const char *counter, uint64_t delta);
/* A kind-specific gauge (the trainer's step, loss): set, not added. */
void pf_node_set_counter(pf_node *n, const char *counter, uint64_t value);
/* For a process() call that computes for long (a training step): keeps the
 * status to the launcher flowing, so it is not taken for a stall. Cheap. */
void pf_node_heartbeat(pf_node *n);
/* 1 if the graph connects this input port. */
int pf_node_input_connected(const pf_node *n, const char *port);

/* Counter slots carried in status messages (u64 [PF_CNT_N + custom]). */
enum {
    PF_CNT_MSGS_IN, PF_CNT_BYTES_IN, PF_CNT_MSGS_OUT, PF_CNT_BYTES_OUT,
    PF_CNT_DROPPED, PF_CNT_MALFORMED, PF_CNT_BLOCKED_NS, PF_CNT_UPTIME_NS,
    PF_CNT_STATE, PF_CNT_LOST,
    PF_CNT_REDELIVERED, /* windows sent again to another replica after the one holding them died */
    PF_CNT_DUPLICATES,  /* windows received twice (a redelivery), dropped and acknowledged */
    PF_CNT_N
};
enum { PF_STATE_RUNNING = 0, PF_STATE_DONE = 1, PF_STATE_FAILED = 2, PF_STATE_INTERRUPTED = 3,
       PF_STATE_ENDING = 4, /* sent end-of-stream, waiting for downstream to acknowledge it */
       PF_STATE_INPUT_DONE = 5, /* needs no more input (PF_DONE): the launcher stops the sources */
       PF_STATE_BUSY = 6 /* running, inside one long process() call (a training step): not stalled */ };
#define PF_MAX_CUSTOM_COUNTERS 16 /* the trainer reports 10 (step, losses per term, validation loss, speed) */

/* --- in-process nodes, for fuzzing and tests --------------------------------
 * A node without sockets: pf_node_send discards (the port is still checked).
 * feed() runs exactly what the runtime runs on a received data message:
 * pf_wire_validate, the content guard (pf_guard), then process(). */
pf_node *pf_node_local_create(const pf_instance *inst); /* calls kind->create; NULL on failure */
int pf_node_local_feed(pf_node *n, const char *port, pf_msg *m); /* m borrowed */
int pf_node_local_finish(pf_node *n, int interrupted);
void pf_node_local_destroy(pf_node *n);              /* calls kind->destroy */
uint64_t pf_node_counter(const pf_node *n, const char *counter); /* kind-specific counter, 0 if never counted */

/* Monotonic clock in nanoseconds. */
uint64_t pf_now_ns(void);

#endif
