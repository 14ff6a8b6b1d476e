/* pf_bedindex: bed number -> dense slot (0, 1, ... in the order beds first appear).
 *
 * The live and monitor nodes keep a record per bed and look one up for every chunk. Kept
 * in a sparse hash table of whole records, each lookup touched a random page of a table
 * of tens of MB (a cache and TLB miss: 17 % of `live`'s time at 3 500 beds). The index is
 * 8 bytes a slot and the records are dense, so a station's beds share few pages. */
#ifndef PF_BEDINDEX_H
#define PF_BEDINDEX_H

#include <stddef.h>
#include <stdint.h>

typedef struct pf_bedindex pf_bedindex;

/* room for max beds; NULL when out of memory */
pf_bedindex *pf_bedindex_create(size_t max);
void pf_bedindex_destroy(pf_bedindex *x);
/* the bed's slot; a bed not seen before gets the next slot when create is set. -1: not seen
 * (create 0), or max beds already have slots */
long pf_bedindex_find(pf_bedindex *x, uint32_t bed, int create);
/* slots given out so far: they are 0 .. count-1 */
size_t pf_bedindex_count(const pf_bedindex *x);
/* zeroed room for max records of size bytes, one per slot, whose pages come in as beds
 * join (calloc would clear all of it at once: tens of MB for the default max_beds);
 * NULL when out of memory. Released with pf_bedindex_records_free. */
void *pf_bedindex_records(size_t max, size_t size);
void pf_bedindex_records_free(void *p, size_t max, size_t size);

#endif
