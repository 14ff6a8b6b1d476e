/* pf_hash: order-independent content hash of a WINDOW: id, index, start, rate,
 * shape and the sections marked hashed in pf_sections.def (samples, R-peaks,
 * labels, features). Summed over windows it gives a stream checksum that does
 * not depend on arrival order. */
#ifndef PF_HASH_H
#define PF_HASH_H

#include "pf_msg.h"

uint64_t pf_msg_hash(const pf_msg *m);

#endif
