/* pf_graphstat: the graph's node counters and training curves, for the dashboard.
 *
 * Every node sends its status (CONTROL "status": NAME "node\nname,name,...",
 * COUNTERS u64 [PF_CNT_N + custom], count = replica) to the launcher twice a
 * second; the launcher re-publishes the valid ones on "<status endpoint>.pub"
 * (graph/pf_launch.c). A pf_graphstat subscribes there from its own thread and
 * keeps, per node instance, the latest counters, and per gauge named *_e6
 * (signed value x 1e6: the trainer's loss_e6, masked_e6, ...) of an instance that
 * also reports a `step` counter, a curve: one point (step, value) per status
 * whose step advanced and whose value changed (statuses come every 0.5 s, so a
 * node stepping faster than that has some steps left out). Curves hold up to PF_GRAPHSTAT_POINTS points; when full,
 * every other point is dropped (the whole run stays visible at half resolution).
 */
#ifndef PF_GRAPHSTAT_H
#define PF_GRAPHSTAT_H

#include "pf_msg.h"

#include <stddef.h>
#include <stdint.h>

#define PF_GRAPHSTAT_NODES 64
#define PF_GRAPHSTAT_CURVES 16
#define PF_GRAPHSTAT_POINTS 2048

typedef struct pf_graphstat pf_graphstat;

/* What one page connection has already been sent. Zero-initialise. */
typedef struct { uint32_t sent[PF_GRAPHSTAT_CURVES], gen[PF_GRAPHSTAT_CURVES]; } pf_graphstat_cursor;

/* endpoint: the launcher's re-published statuses, or NULL for none (then only
 * pf_graphstat_take feeds it). */
pf_graphstat *pf_graphstat_create(const char *endpoint);
void pf_graphstat_destroy(pf_graphstat *g);
/* Take one status message (what the thread does with each it receives).
 * Returns 0 when it is not a valid status (ignored). */
int pf_graphstat_take(pf_graphstat *g, const pf_msg *m);
/* JSON members `"nodes":[...],"curves":[...]` (no braces) with the points this
 * cursor has not had; malloc'd, the caller frees. Curves are
 * {"name":"trainer.0 loss","reset":0|1,"p":[[step,value],...]}. */
char *pf_graphstat_json(pf_graphstat *g, pf_graphstat_cursor *cur);
/* Statuses taken so far (for the node's counters). */
uint64_t pf_graphstat_count(const pf_graphstat *g);

#endif
