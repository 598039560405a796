/*
 * bloom: a fixed-size Bloom filter over byte strings, used to tell which
 * rows certainly carry a key not seen before in the same input. Its memory
 * is fixed at creation (never grows with input); bloom_new returns NULL when
 * it cannot be allocated; bloom_free releases it.
 */
#ifndef TMISGW_BLOOM_H
#define TMISGW_BLOOM_H

#include <stddef.h>
#include <stdint.h>

struct bloom;

/* bits: filter size in bits (rounded up to a power of two, at least 512);
 * k: bits per key, 1..7. */
struct bloom *bloom_new(size_t bits, int k);
void bloom_free(struct bloom *b);
void bloom_clear(struct bloom *b);

/* Hash of one key part, chained: h = bloom_hash(h, part, n). Start at 0. */
uint64_t bloom_hash(uint64_t h, const void *part, size_t n);
/* Adds key hash h; returns 1 if it may have been present, 0 if certainly new. */
int bloom_add(struct bloom *b, uint64_t h);

#endif
