#include "bloom.h"

#include <stdlib.h>
#include <string.h>

struct bloom {
	uint64_t *words;
	size_t mask;   /* bits - 1 */
	size_t nwords;
	int k;
};

struct bloom *bloom_new(size_t bits, int k)
{
	struct bloom *b = calloc(1, sizeof(*b));
	size_t n = 512;

	if (!b || k > 7) {
		free(b);
		return NULL;
	}
	while (n < bits)
		n <<= 1;
	b->nwords = n / 64;
	b->words = calloc(b->nwords, sizeof(uint64_t));
	if (!b->words) {
		free(b);
		return NULL;
	}
	b->mask = n - 1;
	b->k = k;
	return b;
}

void bloom_free(struct bloom *b)
{
	if (b) {
		free(b->words);
		free(b);
	}
}

void bloom_clear(struct bloom *b)
{
	memset(b->words, 0, b->nwords * sizeof(uint64_t));
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

uint64_t bloom_hash(uint64_t h, const void *part, size_t n)
{
	const unsigned char *p = part;
	uint64_t x = h ^ 0x9e3779b97f4a7c15ULL ^ n;

	/* a separator per part keeps ("ab","c") apart from ("a","bc") */
	while (n >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		x = mix(x ^ w) * 0x100000001b3ULL;
		p += 8;
		n -= 8;
	}
	if (n) {
		uint64_t w = 0;

		memcpy(&w, p, n);
		x = mix(x ^ w ^ ((uint64_t)n << 56));
	}
	return mix(x + 0x632be59bd9b4e019ULL);
}

/*
 * Blocked: all k bits of a key fall in one 512-bit block (one cache line),
 * so a key costs one cache miss instead of k; the false-positive rate rises
 * a little, which only sends a few more rows through the staging check.
 */
int bloom_add(struct bloom *b, uint64_t h)
{
	uint64_t *blk = &b->words[(size_t)(h & (b->mask >> 9)) << 3];
	uint64_t h2 = mix(h ^ 0xd6e8feb86659fd93ULL);
	int present = 1;

	for (int i = 0; i < b->k; i++) {
		unsigned bit = (unsigned)(h2 >> (i * 9)) & 511;
		uint64_t m = 1ULL << (bit & 63);

		if (!(blk[bit >> 6] & m)) {
			present = 0;
			blk[bit >> 6] |= m;
		}
	}
	return present;
}
