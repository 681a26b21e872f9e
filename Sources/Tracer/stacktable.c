/*
 * Stack interning: every distinct call stack is stored once and named by a
 * 32-bit id.  Records and frames live in two large MAP_NORESERVE reservations
 * that only cost memory as they fill, so a record never moves and readers
 * need no lock.  The index from hash to id is split into shards, each a small
 * open-addressing table with its own lock and its own growth, so threads
 * allocating from different stacks do not contend.
 *
 * Id 0 is the empty stack, used when a table is full.
 */
#include <string.h>

#include "tracer.h"

#define MAX_STACKS (1u << 21)          /* 2M distinct stacks */
#define MAX_FRAMES_STORED (1ull << 27) /* 128M frames, 1 GiB of address space */
#define INDEX_SHARDS 64

struct index_shard {
    mt_lock_t lock;
    uint32_t count;
    uint32_t mask;
    uint32_t *slots; /* id + 1; 0 = empty */
} __attribute__((aligned(64)));

static struct mt_stack *records;
static uint64_t *frames;
static uint32_t record_count;
static uint64_t frame_count;
static struct index_shard index_shards[INDEX_SHARDS];
uint64_t mt_lost_allocations;

int mt_stacks_init(void) {
    records = mt_reserve(sizeof(struct mt_stack) * (size_t)MAX_STACKS);
    frames = mt_reserve(sizeof(uint64_t) * (size_t)MAX_FRAMES_STORED);
    if (!records || !frames) return -1;
    record_count = 1; /* id 0: the empty stack */
    return 0;
}

static inline uint64_t hash_stack(const uint64_t *pcs, uint32_t depth, uint32_t true_depth) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)depth << 32 | true_depth);
    for (uint32_t i = 0; i < depth; i++) {
        h ^= pcs[i];
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    return h ? h : 1;
}

static inline int same(const struct mt_stack *s, uint64_t h, const uint64_t *pcs, uint32_t depth,
                       uint32_t true_depth) {
    return s->hash == h && s->depth == depth && s->true_depth == true_depth &&
           memcmp(frames + s->frames, pcs, depth * sizeof *pcs) == 0;
}

static int grow(struct index_shard *sh) {
    uint32_t cap = sh->mask ? (sh->mask + 1) * 2 : 1024;
    uint32_t *slots = mt_map(cap * sizeof *slots);
    if (!slots) return -1;
    uint32_t mask = cap - 1;
    if (sh->slots) {
        for (uint32_t i = 0; i <= sh->mask; i++) {
            uint32_t v = sh->slots[i];
            if (!v) continue;
            uint32_t j = (uint32_t)(records[v - 1].hash / INDEX_SHARDS) & mask;
            while (slots[j]) j = (j + 1) & mask;
            slots[j] = v;
        }
        mt_unmap(sh->slots, (sh->mask + 1) * sizeof *slots);
    }
    sh->slots = slots;
    sh->mask = mask;
    return 0;
}

uint32_t mt_stack_intern(const uint64_t *pcs, uint32_t depth, uint32_t true_depth) {
    if (depth == 0) return 0;
    uint64_t h = hash_stack(pcs, depth, true_depth);
    struct index_shard *sh = &index_shards[h % INDEX_SHARDS];
    uint32_t id = 0;
    mt_lock(&sh->lock);
    if (!sh->slots || (sh->count + 1) * 2 > sh->mask + 1) {
        if (grow(sh) != 0) goto out;
    }
    uint32_t j = (uint32_t)(h / INDEX_SHARDS) & sh->mask;
    while (sh->slots[j]) {
        uint32_t cand = sh->slots[j] - 1;
        if (same(&records[cand], h, pcs, depth, true_depth)) {
            id = cand;
            goto out;
        }
        j = (j + 1) & sh->mask;
    }
    /* New stack: claim a record and room for its frames. */
    uint32_t new_id = __atomic_fetch_add(&record_count, 1, __ATOMIC_RELAXED);
    uint64_t at = __atomic_fetch_add(&frame_count, depth, __ATOMIC_RELAXED);
    if (new_id >= MAX_STACKS || at + depth > MAX_FRAMES_STORED) {
        __atomic_store_n(&record_count, MAX_STACKS, __ATOMIC_RELAXED);
        goto out; /* full: id 0 */
    }
    memcpy(frames + at, pcs, depth * sizeof *pcs);
    struct mt_stack *s = &records[new_id];
    s->hash = h;
    s->frames = at;
    s->depth = depth;
    s->true_depth = true_depth;
    s->seen_epoch = __atomic_load_n(&mt_global.peak_epoch, __ATOMIC_RELAXED);
    sh->slots[j] = new_id + 1;
    sh->count++;
    id = new_id;
out:
    mt_unlock(&sh->lock);
    return id;
}

uint32_t mt_stack_count(void) {
    uint32_t n = __atomic_load_n(&record_count, __ATOMIC_ACQUIRE);
    return n > MAX_STACKS ? MAX_STACKS : n;
}

struct mt_stack *mt_stack_get(uint32_t id) { return &records[id]; }

const uint64_t *mt_stack_frames(const struct mt_stack *s) { return frames + s->frames; }

uint64_t mt_stacks_overhead(void) {
    return (uint64_t)mt_stack_count() * sizeof(struct mt_stack) +
           __atomic_load_n(&frame_count, __ATOMIC_RELAXED) * sizeof(uint64_t);
}

void mt_stacks_lock_all(void) {
    for (int i = 0; i < INDEX_SHARDS; i++) mt_lock(&index_shards[i].lock);
}

void mt_stacks_unlock_all(void) {
    for (int i = INDEX_SHARDS - 1; i >= 0; i--) mt_unlock(&index_shards[i].lock);
}
