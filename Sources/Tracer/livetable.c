/*
 * Live blocks: address -> (size, stack, flags).  MT_SHARDS independent
 * open-addressing tables with linear probing and backward-shift deletion (no
 * tombstones, so a table that sees millions of malloc/free pairs never
 * degrades).  Each grows by doubling at 3/4 load, in mmap'd memory.
 */
#include <string.h>

#include "tracer.h"

struct mt_shard mt_shards[MT_SHARDS];

_Static_assert(MT_SHARDS == 256, "mt_shard_index assumes 256 shards");

struct mt_shard *mt_shard_for(uint64_t ptr) { return &mt_shards[mt_shard_index(ptr)]; }

/* Blocks of one 1 KiB stretch of memory share one neighbourhood of 64 slots
 * (16 cache lines), at their offset within it; neighbourhoods are spread at
 * random.  Contiguous placement of whole regions made probe runs long;
 * random placement of single blocks made every access a cache miss. */
static inline uint64_t slot_of(uint64_t ptr, uint64_t mask) {
    return ((mt_mix(ptr >> 10) << 6) + ((ptr >> 4) & 63)) & mask;
}
static inline uint64_t slot_ptr(const struct mt_slot *s) { return s->ptr_flags & ~(uint64_t)MT_FLAG_BITS; }

/* ---- sizes of 4 GiB and more ------------------------------------------------
 * Rare enough for one small table under one lock. */
struct big {
    uint64_t ptr, size;
};
static struct big *bigs;
static uint32_t big_count, big_cap;
static mt_lock_t big_lock;

static int big_put(uint64_t ptr, uint64_t size) {
    mt_lock(&big_lock);
    if (big_count == big_cap) {
        uint32_t cap = big_cap ? big_cap * 2 : 256;
        struct big *b = mt_map(cap * sizeof *b);
        if (!b) {
            mt_unlock(&big_lock);
            return -1;
        }
        if (bigs) {
            memcpy(b, bigs, big_count * sizeof *b);
            mt_unmap(bigs, big_cap * sizeof *b);
        }
        bigs = b;
        big_cap = cap;
    }
    bigs[big_count++] = (struct big){ptr, size};
    mt_unlock(&big_lock);
    return 0;
}

static uint64_t big_get(uint64_t ptr, int take) {
    uint64_t size = MT_BIG_SIZE;
    mt_lock(&big_lock);
    for (uint32_t i = 0; i < big_count; i++) {
        if (bigs[i].ptr != ptr) continue;
        size = bigs[i].size;
        if (take) bigs[i] = bigs[--big_count];
        break;
    }
    mt_unlock(&big_lock);
    return size;
}

static void unpack(const struct mt_slot *s, struct mt_live *out, int take_big) {
    out->ptr = slot_ptr(s);
    out->flags = (uint32_t)(s->ptr_flags & MT_FLAG_BITS);
    out->stack = s->stack;
    out->size = s->size == MT_BIG_SIZE ? big_get(out->ptr, take_big) : s->size;
}

int mt_live_at(const struct mt_shard *sh, uint64_t j, struct mt_live *out) {
    if (!sh->tab || !sh->tab[j].ptr_flags) return 0;
    unpack(&sh->tab[j], out, 0);
    return 1;
}

static int grow(struct mt_shard *sh) {
    uint64_t cap = sh->mask ? (sh->mask + 1) * 2 : 256;
    struct mt_slot *tab = mt_map(cap * sizeof *tab);
    if (!tab) return -1;
    uint64_t mask = cap - 1;
    if (sh->tab) {
        for (uint64_t i = 0; i <= sh->mask; i++) {
            const struct mt_slot *e = &sh->tab[i];
            if (!e->ptr_flags) continue;
            uint64_t j = slot_of(slot_ptr(e), mask);
            while (tab[j].ptr_flags) j = (j + 1) & mask;
            tab[j] = *e;
        }
        mt_unmap(sh->tab, (sh->mask + 1) * sizeof *tab);
    }
    sh->tab = tab;
    sh->mask = mask;
    return 0;
}

static struct mt_slot *find(struct mt_shard *sh, uint64_t ptr) {
    if (!sh->tab) return NULL;
    uint64_t j = slot_of(ptr, sh->mask);
    while (sh->tab[j].ptr_flags) {
        if (slot_ptr(&sh->tab[j]) == ptr) return &sh->tab[j];
        j = (j + 1) & sh->mask;
    }
    return NULL;
}

int mt_live_insert(struct mt_shard *sh, const struct mt_live *e) {
    if (!sh->tab || (sh->count + 1) * 4 > (sh->mask + 1) * 3) {
        if (grow(sh) != 0) return -1;
    }
    struct mt_slot packed = {
        .ptr_flags = e->ptr | (e->flags & MT_FLAG_BITS),
        .stack = e->stack,
        .size = e->size < MT_BIG_SIZE ? (uint32_t)e->size : MT_BIG_SIZE,
    };
    if (packed.size == MT_BIG_SIZE && big_put(e->ptr, e->size) != 0) return -1;
    uint64_t j = slot_of(e->ptr, sh->mask);
    while (sh->tab[j].ptr_flags) {
        if (slot_ptr(&sh->tab[j]) == e->ptr) { /* a block whose free we missed: replace it */
            if (sh->tab[j].size == MT_BIG_SIZE) big_get(e->ptr, 1);
            sh->tab[j] = packed;
            return 0;
        }
        j = (j + 1) & sh->mask;
    }
    sh->tab[j] = packed;
    sh->count++;
    if (mt_sample_filter) { /* the cell belongs to this shard: its lock is held */
        uint32_t i = mt_filter_index(e->ptr);
        uint8_t *cell = &mt_sample_filter[i];
        if (*cell < 255) ++*cell;
        __atomic_store_n(&mt_sample_bits[i >> 3], mt_sample_bits[i >> 3] | (uint8_t)(1u << (i & 7)), __ATOMIC_RELAXED);
    }
    return 0;
}

int mt_live_set_flags(struct mt_shard *sh, uint64_t ptr, uint32_t set, uint32_t clear) {
    struct mt_slot *e = find(sh, ptr);
    if (!e) return 0;
    e->ptr_flags = (e->ptr_flags & ~(uint64_t)(clear & MT_FLAG_BITS)) | (set & MT_FLAG_BITS);
    return 1;
}

int mt_live_remove(struct mt_shard *sh, uint64_t ptr, struct mt_live *out) {
    struct mt_slot *e = find(sh, ptr);
    if (!e) return 0;
    unpack(e, out, 1);
    /* Backward-shift deletion: pull later members of the probe run into the hole. */
    uint64_t mask = sh->mask;
    uint64_t hole = (uint64_t)(e - sh->tab);
    uint64_t j = hole;
    for (;;) {
        j = (j + 1) & mask;
        if (!sh->tab[j].ptr_flags) break;
        uint64_t home = slot_of(slot_ptr(&sh->tab[j]), mask);
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
        uint32_t i = mt_filter_index(ptr);
        uint8_t *cell = &mt_sample_filter[i];
        if (*cell < 255 && --*cell == 0)
            __atomic_store_n(&mt_sample_bits[i >> 3], mt_sample_bits[i >> 3] & (uint8_t)~(1u << (i & 7)),
                             __ATOMIC_RELAXED);
    }
    return 1;
}

void mt_live_lock_all(void) {
    for (int i = 0; i < MT_SHARDS; i++) mt_lock(&mt_shards[i].lock);
}

void mt_live_unlock_all(void) {
    for (int i = MT_SHARDS - 1; i >= 0; i--) mt_unlock(&mt_shards[i].lock);
}
