/*
 * Live blocks: address -> (size, stack, flags).  MT_SHARDS independent
 * open-addressing tables with linear probing and backward-shift deletion (no
 * tombstones, so a table that sees millions of malloc/free pairs never
 * degrades).  Each grows by doubling at 3/4 load, in mmap'd memory.
 */
#include <string.h>

#include "tracer.h"

struct mt_shard mt_shards[MT_SHARDS];

#define mix mt_mix

struct mt_shard *mt_shard_for(uint64_t ptr) { return &mt_shards[mix(ptr) % MT_SHARDS]; }

static inline uint64_t slot_of(uint64_t ptr, uint64_t mask) { return (mix(ptr) / MT_SHARDS) & mask; }

static int grow(struct mt_shard *sh) {
    uint64_t cap = sh->mask ? (sh->mask + 1) * 2 : 256;
    struct mt_live *tab = mt_map(cap * sizeof *tab);
    if (!tab) return -1;
    uint64_t mask = cap - 1;
    if (sh->tab) {
        for (uint64_t i = 0; i <= sh->mask; i++) {
            struct mt_live *e = &sh->tab[i];
            if (!e->ptr) continue;
            uint64_t j = slot_of(e->ptr, mask);
            while (tab[j].ptr) j = (j + 1) & mask;
            tab[j] = *e;
        }
        mt_unmap(sh->tab, (sh->mask + 1) * sizeof *tab);
    }
    sh->tab = tab;
    sh->mask = mask;
    return 0;
}

int mt_live_insert(struct mt_shard *sh, const struct mt_live *e) {
    if (!sh->tab || (sh->count + 1) * 4 > (sh->mask + 1) * 3) {
        if (grow(sh) != 0) return -1;
    }
    uint64_t j = slot_of(e->ptr, sh->mask);
    while (sh->tab[j].ptr) {
        if (sh->tab[j].ptr == e->ptr) { /* a block we missed the free of: replace it */
            sh->tab[j] = *e;
            return 0;
        }
        j = (j + 1) & sh->mask;
    }
    sh->tab[j] = *e;
    sh->count++;
    if (mt_sample_filter) { /* the cell belongs to this shard: its lock is held */
        uint8_t *cell = &mt_sample_filter[mix(e->ptr) & (MT_FILTER_CELLS - 1)];
        if (*cell < 255) ++*cell;
    }
    return 0;
}

struct mt_live *mt_live_find(struct mt_shard *sh, uint64_t ptr) {
    if (!sh->tab) return NULL;
    uint64_t j = slot_of(ptr, sh->mask);
    while (sh->tab[j].ptr) {
        if (sh->tab[j].ptr == ptr) return &sh->tab[j];
        j = (j + 1) & sh->mask;
    }
    return NULL;
}

int mt_live_remove(struct mt_shard *sh, uint64_t ptr, struct mt_live *out) {
    struct mt_live *e = mt_live_find(sh, ptr);
    if (!e) return 0;
    *out = *e;
    /* Backward-shift deletion: pull later members of the probe run into the hole. */
    uint64_t mask = sh->mask;
    uint64_t hole = (uint64_t)(e - sh->tab);
    uint64_t j = hole;
    for (;;) {
        j = (j + 1) & mask;
        if (!sh->tab[j].ptr) break;
        uint64_t home = slot_of(sh->tab[j].ptr, mask);
        /* Move j into the hole unless its home lies cyclically in (hole, j]. */
        int stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            sh->tab[hole] = sh->tab[j];
            hole = j;
        }
    }
    memset(&sh->tab[hole], 0, sizeof sh->tab[hole]);
    sh->count--;
    if (mt_sample_filter) { /* a saturated cell stays set: only costs a lookup */
        uint8_t *cell = &mt_sample_filter[mix(ptr) & (MT_FILTER_CELLS - 1)];
        if (*cell < 255) --*cell;
    }
    return 1;
}

void mt_live_lock_all(void) {
    for (int i = 0; i < MT_SHARDS; i++) mt_lock(&mt_shards[i].lock);
}

void mt_live_unlock_all(void) {
    for (int i = MT_SHARDS - 1; i >= 0; i--) mt_unlock(&mt_shards[i].lock);
}

uint64_t mt_live_overhead(void) {
    uint64_t total = 0;
    for (int i = 0; i < MT_SHARDS; i++)
        if (mt_shards[i].tab) total += (mt_shards[i].mask + 1) * sizeof(struct mt_live);
    return total;
}
