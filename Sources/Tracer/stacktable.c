/*
 * Stack interning: every distinct call stack is stored once and named by a
 * 32-bit id.  Records and frames live in two large MAP_NORESERVE reservations
 * that only cost memory as they fill, so a record never moves and readers
 * need no lock.  The index from hash to id is split into shards, each a small
 * open-addressing table with its own lock and its own growth, so threads
 * allocating from different stacks do not contend.
 *
 * Id 0 is the empty stack, used when a table is full.
 *
 * Reserved address space counts against an address-space limit (ulimit -v)
 * even where nothing is stored: under one, the reservations take at most an
 * eighth of it, so that the program keeps the room it would have untraced.
 */
#include <string.h>
#include <sys/resource.h>

#include "tracer.h"

#define MAX_STACKS MT_MAX_STACKS
#define MAX_FRAMES_STORED (1ull << 27) /* 128M frames, 1 GiB of address space */
#define INDEX_SHARDS 64

/* An index table is published whole through one pointer; a grown shard's
 * old table is left mapped (at most as much again as the live tables), so a
 * reader that is still probing it never touches freed memory. */
struct index_table {
    uint32_t mask;
    uint32_t pad;
    uint32_t slots[]; /* id + 1; 0 = empty; written once, never changed */
};

struct index_shard {
    mt_lock_t lock; /* taken only to insert */
    uint32_t count;
    struct index_table *table;
} __attribute__((aligned(64)));

static struct mt_stack *records;
static uint64_t *frames;
static uint32_t max_stacks = MAX_STACKS;
static uint64_t max_frames = MAX_FRAMES_STORED;
static uint32_t record_count;
static uint64_t frame_count;
static struct index_shard index_shards[INDEX_SHARDS];
uint64_t mt_lost_allocations;

/* The most stacks and frames an eighth of an address-space limit holds:
 * records get a ninth of it, frames the rest (never fewer than 16,384
 * stacks and 262,144 frames). */
static void limits_for(uint64_t limit, uint32_t *stacks_out, uint64_t *pcs_out) {
    uint64_t share = limit / 8;
    uint64_t stacks = share / 9 / sizeof(struct mt_stack), pcs = share / 9 * 8 / sizeof(uint64_t);
    if (stacks < *stacks_out) *stacks_out = stacks < (1u << 14) ? (1u << 14) : (uint32_t)stacks;
    if (pcs < *pcs_out) *pcs_out = pcs < (1u << 18) ? (1u << 18) : pcs;
}

int mt_stacks_init(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
        limits_for((uint64_t)limit.rlim_cur, &max_stacks, &max_frames);
    records = mt_reserve(sizeof(struct mt_stack) * (size_t)max_stacks);
    frames = mt_reserve(sizeof(uint64_t) * (size_t)max_frames);
    if (!records || !frames) return -1;
    record_count = 1; /* id 0: the empty stack */
    return 0;
}

/* A program that lowers its own limit (`ulimit -v` in a script, Python's
 * resource.setrlimit) below what the table reserved at start could map
 * nothing more.  Every index lock held, no stack is being added: the
 * reservations end at an eighth of the new limit, or where what is stored
 * ends if that is further. */
void mt_stacks_fit_limit(uint64_t limit) {
    if (!records || !frames) return;
    mt_stacks_lock_all();
    uint32_t stacks = max_stacks;
    uint64_t pcs = max_frames;
    limits_for(limit, &stacks, &pcs);
    uint32_t used_stacks = __atomic_load_n(&record_count, __ATOMIC_RELAXED);
    uint64_t used_pcs = __atomic_load_n(&frame_count, __ATOMIC_RELAXED); /* past the end once full */
    if (used_stacks > max_stacks) used_stacks = max_stacks;
    if (used_pcs > max_frames) used_pcs = max_frames;
    const uint64_t page = mt_page_size();
    if (stacks < used_stacks) stacks = used_stacks;
    if (pcs < used_pcs) pcs = used_pcs;
    /* whole pages, which is what stays mapped */
    stacks = (uint32_t)(((uint64_t)stacks * sizeof(struct mt_stack) + page - 1) / page * page / sizeof(struct mt_stack));
    pcs = (pcs * sizeof(uint64_t) + page - 1) / page * page / sizeof(uint64_t);
    if (stacks < max_stacks) {
        mt_reserve_shrink(records, sizeof(struct mt_stack) * (size_t)max_stacks, sizeof(struct mt_stack) * (size_t)stacks);
        max_stacks = stacks;
        if (__atomic_load_n(&record_count, __ATOMIC_RELAXED) > max_stacks)
            __atomic_store_n(&record_count, max_stacks, __ATOMIC_RELAXED);
    }
    if (pcs < max_frames) {
        mt_reserve_shrink(frames, sizeof(uint64_t) * (size_t)max_frames, sizeof(uint64_t) * (size_t)pcs);
        max_frames = pcs;
    }
    mt_stacks_unlock_all();
}

static inline int same(const struct mt_stack *s, uint64_t h, const uint64_t *pcs, uint32_t depth) {
    return s->hash == h && s->depth == depth &&
           memcmp(frames + s->frames, pcs, depth * sizeof *pcs) == 0;
}

static int grow(struct index_shard *sh) {
    struct index_table *old = sh->table;
    uint32_t cap = old ? (old->mask + 1) * 2 : 1024;
    struct index_table *t = mt_map(sizeof *t + cap * sizeof(uint32_t));
    if (!t) return -1;
    t->mask = cap - 1;
    if (old) {
        for (uint32_t i = 0; i <= old->mask; i++) {
            uint32_t v = old->slots[i];
            if (!v) continue;
            uint32_t j = (uint32_t)(records[v - 1].hash / INDEX_SHARDS) & t->mask;
            while (t->slots[j]) j = (j + 1) & t->mask;
            t->slots[j] = v;
        }
    }
    __atomic_store_n(&sh->table, t, __ATOMIC_RELEASE);
    return 0;
}

/* Lock-free lookup: slots only ever go from empty to an id whose record was
 * complete before the slot was published. */
static uint32_t find(struct index_table *t, uint64_t h, const uint64_t *pcs, uint32_t depth, uint32_t *empty_slot) {
    uint32_t j = (uint32_t)(h / INDEX_SHARDS) & t->mask;
    for (;;) {
        uint32_t v = __atomic_load_n(&t->slots[j], __ATOMIC_ACQUIRE);
        if (!v) {
            *empty_slot = j;
            return 0;
        }
        if (same(&records[v - 1], h, pcs, depth)) return v;
        j = (j + 1) & t->mask;
    }
}

static uint32_t intern(const uint64_t *pcs, uint32_t depth, int truncated, uint64_t h) {
    struct index_shard *sh = &index_shards[h % INDEX_SHARDS];
    uint32_t slot;
    struct index_table *t = __atomic_load_n(&sh->table, __ATOMIC_ACQUIRE);
    if (MT_LIKELY(t != NULL)) {
        uint32_t v = find(t, h, pcs, depth, &slot);
        if (MT_LIKELY(v != 0)) return v - 1;
    }
    /* A new stack (or a race to insert one).  Its real depth is measured
     * here, before the lock: the walk may take the loader's lock, which a
     * thread waiting for ours could hold. */
    uint32_t true_depth = truncated ? mt_unwind_full_depth() : depth;
    if (true_depth < depth) true_depth = depth;
    uint32_t id = 0;
    mt_lock(&sh->lock);
    if (!sh->table || (sh->count + 1) * 2 > sh->table->mask + 1) {
        if (grow(sh) != 0) goto out;
    }
    t = sh->table;
    uint32_t v = find(t, h, pcs, depth, &slot);
    if (v) { /* another thread inserted it meanwhile */
        id = v - 1;
        goto out;
    }
    /* New stack: claim a record and room for its frames. */
    uint32_t new_id = __atomic_fetch_add(&record_count, 1, __ATOMIC_RELAXED);
    uint64_t at = __atomic_fetch_add(&frame_count, depth, __ATOMIC_RELAXED);
    if (new_id >= max_stacks || at + depth > max_frames) {
        __atomic_store_n(&record_count, max_stacks, __ATOMIC_RELAXED);
        goto out; /* full: id 0 */
    }
    memcpy(frames + at, pcs, depth * sizeof *pcs);
    struct mt_stack *s = &records[new_id];
    s->hash = h;
    s->frames = at;
    s->depth = depth;
    s->true_depth = true_depth;
    __atomic_store_n(&t->slots[slot], new_id + 1, __ATOMIC_RELEASE);
    sh->count++;
    id = new_id;
out:
    mt_unlock(&sh->lock);
    return id;
}

/* ---- the thread's recent stacks ----------------------------------------------
 * Finding a stack in the shared index costs a probe, its record and a
 * comparison of all its frames: three or four cache misses, where the
 * table's frames outgrow the cache (python3: 12,000 stacks, 2 MiB of
 * frames).  So each thread remembers the ids of the stacks it met lately by
 * their 64-bit hash and depth, and trusts a match without comparing frames:
 * two different stacks would have to share both, which for n stacks has odds
 * of about n^2 / 2^65 (2 * 10^-7 at the table's limit of 2M stacks).  New
 * stacks are still compared in full before they get an id.  Two ways per
 * bucket, the one used last first: direct-mapped, python3's walks went to
 * the shared index 7% of the time, two-way 2%. */
#define MEMO_BITS 10
struct memo {
    uint64_t hash;
    uint32_t id, depth;
};
static __thread struct memo *memos __attribute__((tls_model("initial-exec")));
static __thread int memos_gone __attribute__((tls_model("initial-exec")));

void mt_stacks_thread_exit(void) {
    if (memos) mt_unmap(memos, sizeof(struct memo) << MEMO_BITS);
    memos = NULL;
    memos_gone = 1;
}

uint32_t mt_stack_intern(const uint64_t *pcs, uint32_t depth, int truncated, uint64_t hash) {
    if (depth == 0) return 0;
    uint64_t h = hash ? hash : mt_stack_hash(pcs, depth);
    if (MT_UNLIKELY(!memos) && !memos_gone) {
        memos = mt_map(sizeof(struct memo) << MEMO_BITS);
        memos_gone = memos == NULL;
    }
    struct memo *m = memos ? &memos[(h >> (64 - MEMO_BITS + 1)) * 2] : NULL;
    if (MT_LIKELY(m != NULL)) {
        if (MT_LIKELY(m[0].hash == h && m[0].depth == depth)) return m[0].id;
        if (m[1].hash == h && m[1].depth == depth) {
            struct memo hit = m[1];
            m[1] = m[0];
            m[0] = hit;
            return hit.id;
        }
    }
    uint32_t id = intern(pcs, depth, truncated, h);
    if (m && id) {
        m[1] = m[0];
        m[0] = (struct memo){.hash = h, .id = id, .depth = depth};
    }
    return id;
}

uint32_t mt_stack_count(void) {
    uint32_t n = __atomic_load_n(&record_count, __ATOMIC_ACQUIRE);
    return n > max_stacks ? max_stacks : n;
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
