/*
 * Live blocks: address -> (size, stack, flags).  (The owner's padded blocks
 * keep theirs in the blocks until every shard lock is taken: inblock.c.)
 *
 * Two levels.  A block's shard (one of MT_SHARDS, each with its own lock)
 * comes from the 1 MiB stretch of memory it starts in (mt_shard_index), its
 * region from the 64 KiB stretch; each shard keeps a small directory of its
 * regions, and each region an open-addressing table of its own blocks, sized
 * to how many it holds.
 *
 * Why regions: a program touches its heap a few stretches at a time, so the
 * tables of those stretches stay in cache, where one table for the whole
 * heap is a cache miss on nearly every allocation and free.  And because each
 * table is sized to its own region, a crowded stretch (thousands of 16-byte
 * blocks) cannot lengthen the probe runs of its neighbours, which is what
 * made a single table with per-stretch neighbourhoods probe 7-10 slots a
 * lookup on python3.
 *
 * A slot is one 64-bit word: five flag bits, a used bit, the block's offset
 * in its region (allocators return 8-byte aligned addresses, so 13 bits), the
 * stack (21 bits: ids stay under MAX_STACKS, 2^21) and the size (24 bits);
 * sizes from 16 MiB less a byte keep the marker BIG_SIZE and their size in a side
 * table.  Eight bytes instead of twelve: python3's million live blocks kept
 * a third less table, and a cache line holds eight slots.
 *
 * Inside a region a block's slot is its offset in 8-byte units folded onto
 * the table's size (offset ^ offset >> bits ^ ...): blocks allocated one after
 * another land in neighbouring slots, and evenly spaced blocks fill the table
 * instead of piling onto every second or fourth slot.  Linear probing with
 * backward-shift deletion (no tombstones), growth by doubling at 3/4 load.
 *
 * A region whose last block goes is dropped only while its table is the
 * smallest: heaps empty and refill the same stretches (python3's did so 15,000
 * times in one run), and regrowing a large table each time cost more in
 * mmap, munmap and page faults than the table saved.  Like the single table
 * before it, a region's table never shrinks.
 */
#include <linux/membarrier.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "tracer.h"

struct mt_shard mt_shards[MT_SHARDS];

_Static_assert(MT_SHARDS == 256, "mt_shard_index assumes 256 shards");

#define REGION_SHIFT 16
#define OFFSET_BITS (REGION_SHIFT - 3) /* offsets in 8-byte units */
#define MIN_BITS 4                     /* 16 slots */

/* 0: empty; else flags | USED | offset << KEY_SHIFT | stack << STACK_SHIFT | size << SIZE_SHIFT */
struct slot {
    uint64_t v;
};
#define USED (MT_FLAG_BITS + 1)
#define KEY_SHIFT 6 /* the flags' five bits and the used bit */
_Static_assert(USED == 1u << (KEY_SHIFT - 1), "the used bit right above the flags");
#define KEY_MASK ((1ull << (KEY_SHIFT + OFFSET_BITS)) - 1 - MT_FLAG_BITS) /* used bit and offset */
#define STACK_SHIFT (KEY_SHIFT + OFFSET_BITS)
#define STACK_BITS 21
#define SIZE_SHIFT (STACK_SHIFT + STACK_BITS)
#define BIG_SIZE ((1ull << (64 - SIZE_SHIFT)) - 1)
_Static_assert(SIZE_SHIFT == 40, "24 bits of size");
_Static_assert(MT_MAX_STACKS <= 1u << STACK_BITS, "every stack id fits a slot");

struct mt_region {
    uint64_t key; /* (address >> REGION_SHIFT) + 1; 0: empty entry */
    struct slot *tab;
    uint32_t count;
    uint8_t bits; /* capacity is 1 << bits */
    uint8_t pad[3];
};

_Static_assert(sizeof(struct slot) == 8 && sizeof(struct mt_region) == 24, "sizes the pool serves");

static inline uint64_t key_of(uint64_t ptr) { return (ptr >> REGION_SHIFT) + 1; }
static inline uint64_t dir_home(uint64_t key, uint64_t mask) {
    return ((key * 0x9e3779b97f4a7c15ull) >> 32) & mask; /* bits the shard index does not use */
}
static inline uint32_t offset_of(uint64_t ptr) { return (uint32_t)(ptr >> 3) & ((1u << OFFSET_BITS) - 1); }
/* What a slot's word holds for `ptr` in its key bits (used bit and offset). */
static inline uint64_t word_of(uint64_t ptr) { return (uint64_t)offset_of(ptr) << KEY_SHIFT | USED; }
static inline uint32_t slot_stack(const struct slot *s) { return (uint32_t)(s->v >> STACK_SHIFT) & ((1u << STACK_BITS) - 1); }
static inline uint64_t slot_size(const struct slot *s) { return s->v >> SIZE_SHIFT; }
static inline uint64_t home_of(uint64_t offset, unsigned bits) {
    uint64_t h = offset ^ (offset >> bits);
    if (bits * 2 < OFFSET_BITS) h ^= (offset >> 2 * bits) ^ (offset >> 3 * bits); /* offsets span 2^13 */
    return h & ((1ull << bits) - 1);
}
static inline uint64_t slot_offset(const struct slot *s) { return (s->v & KEY_MASK) >> KEY_SHIFT; }
static inline uint64_t slot_home(const struct slot *s, unsigned bits) { return home_of(slot_offset(s), bits); }
static inline uint64_t slot_ptr(const struct mt_region *r, const struct slot *s) {
    return ((r->key - 1) << REGION_SHIFT) | slot_offset(s) << 3;
}

/* Backward-shift deletion: may the entry at j, whose home slot is `home`,
 * move back into the hole?  Not when its home lies cyclically in (hole, j]. */
static inline int may_fill(uint64_t hole, uint64_t j, uint64_t home) {
    return hole <= j ? !(home > hole && home <= j) : !(home > hole || home <= j);
}

/* ---- table memory ------------------------------------------------------------------
 * Slot tables (8 << bits bytes) and directories (24 << d bytes) are 128 << k
 * and 384 << k bytes.  Up to 64 KiB (the table of a region full of the
 * smallest blocks glibc makes) and 12 KiB they come from one pool of 256 KiB
 * chunks, shared by all shards (a chunk per shard cost a program touching
 * every shard 256 mappings before it had used any), with a free list per
 * size; larger ones are mapped on their own.  When tables of 8 and 16 KiB
 * were mapped on their own, python3's run grew and dropped them 1,100 times
 * (3,300 system calls, and the page faults of every new mapping); freed
 * tables now go to the next region that grows.  The pool's lock is only ever taken
 * under a shard lock, so whoever holds them all (fork, the snapshot writer)
 * finds it free. */
#define TABLE_CLASSES 10 /* 128 B .. 64 KiB: a region's largest table */
#define POOL_CLASSES (TABLE_CLASSES + 6) /* then 384 B .. 12 KiB */
#define CHUNK_BYTES (256 * 1024)
static struct {
    mt_lock_t lock;
    void *free[POOL_CLASSES]; /* freed blocks, linked through their first word */
    char *chunk;              /* carving point */
    uint64_t left;
} pool;

static uint64_t class_bytes(int k) { return k < TABLE_CLASSES ? 128ull << k : 384ull << (k - TABLE_CLASSES); }

static int pool_class(uint64_t bytes) {
    for (int k = 0; k < POOL_CLASSES; k++)
        if (bytes == class_bytes(k)) return k;
    return -1;
}

static void *block_new(uint64_t bytes) {
    int k = pool_class(bytes);
    if (k < 0) return mt_map(bytes);
    mt_lock(&pool.lock);
    void *t = pool.free[k];
    if (t) {
        pool.free[k] = *(void **)t;
        mt_unlock(&pool.lock);
        memset(t, 0, bytes);
        return t;
    }
    if (pool.left < bytes) {
        /* What is left of the old chunk goes to the smaller sizes. */
        for (int c = POOL_CLASSES - 1; c >= 0; c--) {
            uint64_t size = class_bytes(c);
            while (pool.left >= size) {
                *(void **)pool.chunk = pool.free[c];
                pool.free[c] = pool.chunk;
                pool.chunk += size;
                pool.left -= size;
            }
        }
        pool.chunk = mt_map(CHUNK_BYTES);
        pool.left = pool.chunk ? CHUNK_BYTES : 0;
    }
    if (pool.left < bytes) {
        mt_unlock(&pool.lock);
        return NULL;
    }
    t = pool.chunk;
    pool.chunk += bytes;
    pool.left -= bytes;
    mt_unlock(&pool.lock);
    return t; /* fresh mapping: already zero */
}

static void block_free(void *t, uint64_t bytes) {
    int k = pool_class(bytes);
    if (k < 0) {
        mt_unmap(t, bytes);
        return;
    }
    mt_lock(&pool.lock);
    *(void **)t = pool.free[k];
    pool.free[k] = t;
    mt_unlock(&pool.lock);
}

static struct slot *table_new(unsigned bits) { return block_new(sizeof(struct slot) << bits); }
static void table_free(struct slot *t, unsigned bits) { block_free(t, sizeof(struct slot) << bits); }

/* ---- the directory ------------------------------------------------------------------ */
static struct mt_region *region_find(const struct mt_shard *sh, uint64_t key) {
    if (!sh->directory) return NULL;
    uint64_t mask = sh->dir_mask;
    for (uint64_t j = dir_home(key, mask);; j = (j + 1) & mask) {
        struct mt_region *r = &sh->directory[j];
        if (r->key == key) return r;
        if (!r->key) return NULL;
    }
}

static int directory_grow(struct mt_shard *sh) {
    uint64_t cap = sh->directory ? ((uint64_t)sh->dir_mask + 1) * 2 : 16;
    struct mt_region *dir = block_new(cap * sizeof *dir);
    if (!dir) return -1;
    if (sh->directory) {
        for (uint64_t i = 0; i <= sh->dir_mask; i++) {
            const struct mt_region *r = &sh->directory[i];
            if (!r->key) continue;
            uint64_t j = dir_home(r->key, cap - 1);
            while (dir[j].key) j = (j + 1) & (cap - 1);
            dir[j] = *r;
        }
        block_free(sh->directory, ((uint64_t)sh->dir_mask + 1) * sizeof *dir);
    }
    sh->directory = dir;
    sh->dir_mask = (uint32_t)(cap - 1);
    return 0;
}

static struct mt_region *region_add(struct mt_shard *sh, uint64_t key) {
    if (!sh->directory || (sh->regions + 1) * 2 > (uint64_t)sh->dir_mask + 1) {
        if (directory_grow(sh) != 0) return NULL;
    }
    struct slot *tab = table_new(MIN_BITS);
    if (!tab) return NULL;
    uint64_t mask = sh->dir_mask, j = dir_home(key, mask);
    while (sh->directory[j].key) j = (j + 1) & mask;
    sh->directory[j] = (struct mt_region){.key = key, .tab = tab, .bits = MIN_BITS};
    sh->regions++;
    return &sh->directory[j];
}

static void region_drop(struct mt_shard *sh, struct mt_region *r) {
    table_free(r->tab, r->bits);
    uint64_t mask = sh->dir_mask, hole = (uint64_t)(r - sh->directory);
    for (uint64_t j = (hole + 1) & mask; sh->directory[j].key; j = (j + 1) & mask) {
        if (may_fill(hole, j, dir_home(sh->directory[j].key, mask))) {
            sh->directory[hole] = sh->directory[j];
            hole = j;
        }
    }
    memset(&sh->directory[hole], 0, sizeof sh->directory[hole]);
    sh->regions--;
}

/* ---- sizes of 16 MiB and more -----------------------------------------------
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
    uint64_t size = BIG_SIZE;
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

static void unpack(const struct mt_region *r, const struct slot *s, struct mt_live *out, int take_big) {
    out->ptr = slot_ptr(r, s);
    out->flags = (uint32_t)(s->v & MT_FLAG_BITS);
    out->stack = slot_stack(s);
    out->size = slot_size(s) == BIG_SIZE ? big_get(out->ptr, take_big) : slot_size(s);
}

/* ---- a region's table ------------------------------------------------------------------ */
static int region_grow(struct mt_region *r) {
    unsigned bits = r->bits + 1u;
    struct slot *tab = table_new(bits);
    if (!tab) return -1;
    uint64_t mask = (1ull << bits) - 1;
    for (uint64_t i = 0; i < (1ull << r->bits); i++) {
        const struct slot *e = &r->tab[i];
        if (!e->v) continue;
        uint64_t j = slot_home(e, bits);
        while (tab[j].v) j = (j + 1) & mask;
        tab[j] = *e;
    }
    table_free(r->tab, r->bits);
    r->tab = tab;
    r->bits = (uint8_t)bits;
    return 0;
}

static struct slot *find(const struct mt_region *r, uint64_t ptr) {
    uint64_t mask = (1ull << r->bits) - 1;
    uint64_t word = word_of(ptr);
    for (uint64_t j = home_of(word >> KEY_SHIFT, r->bits);; j = (j + 1) & mask) {
        struct slot *s = &r->tab[j];
        if ((s->v & KEY_MASK) == word) return s;
        if (!s->v) return NULL;
    }
}

int mt_live_insert(struct mt_shard *sh, const struct mt_live *e) {
    uint64_t key = key_of(e->ptr);
    struct mt_region *r = region_find(sh, key);
    if (!r && !(r = region_add(sh, key))) return -1;
    if ((r->count + 1) * 4 > (3u << r->bits) && region_grow(r) != 0) return -1;
    uint64_t word = word_of(e->ptr);
    uint64_t size = e->size < BIG_SIZE ? e->size : BIG_SIZE;
    struct slot packed = {
        .v = word | (e->flags & MT_FLAG_BITS) | (uint64_t)(e->stack & ((1u << STACK_BITS) - 1)) << STACK_SHIFT |
             size << SIZE_SHIFT,
    };
    if (size == BIG_SIZE && big_put(e->ptr, e->size) != 0) return -1;
    uint64_t mask = (1ull << r->bits) - 1;
    uint64_t j = home_of(word >> KEY_SHIFT, r->bits);
    while (r->tab[j].v) {
        if ((r->tab[j].v & KEY_MASK) == word) { /* a block whose free we missed: replace it */
            if (slot_size(&r->tab[j]) == BIG_SIZE) big_get(e->ptr, 1);
            r->tab[j] = packed;
            if (e->flags & MT_SLOT_PADDED) mt_inblock_moved(e);
            return 0;
        }
        j = (j + 1) & mask;
    }
    r->tab[j] = packed;
    r->count++;
    sh->count++;
    if (mt_sample_filter) mt_filter_add(e->ptr);
    if (e->flags & MT_SLOT_PADDED) mt_inblock_moved(e); /* its record is this slot now */
    return 0;
}

int mt_live_set_flags(struct mt_shard *sh, uint64_t ptr, uint32_t set, uint32_t clear) {
    struct mt_region *r = region_find(sh, key_of(ptr));
    struct slot *e = r ? find(r, ptr) : NULL;
    if (!e) return 0;
    e->v = (e->v & ~(uint64_t)(clear & MT_FLAG_BITS)) | (set & MT_FLAG_BITS);
    return 1;
}

void mt_live_clear_flags(struct mt_shard *sh, uint32_t clear) {
    for (uint64_t i = 0; sh->directory && i <= sh->dir_mask; i++) {
        struct mt_region *r = &sh->directory[i];
        for (uint64_t j = 0; r->key && j < (1ull << r->bits); j++)
            if (r->tab[j].v) r->tab[j].v &= ~(uint64_t)(clear & MT_FLAG_BITS);
    }
}

int mt_live_remove(struct mt_shard *sh, uint64_t ptr, struct mt_live *out) {
    struct mt_region *r = region_find(sh, key_of(ptr));
    struct slot *e = r ? find(r, ptr) : NULL;
    if (!e) return 0;
    unpack(r, e, out, 1);
    if (out->flags & MT_SLOT_PADDED) mt_inblock_forget(ptr);
    sh->count--;
    if (--r->count == 0 && r->bits == MIN_BITS) {
        region_drop(sh, r);
    } else {
        /* Pull later members of the probe run into the hole. */
        uint64_t mask = (1ull << r->bits) - 1;
        uint64_t hole = (uint64_t)(e - r->tab);
        for (uint64_t j = (hole + 1) & mask; r->tab[j].v; j = (j + 1) & mask) {
            if (may_fill(hole, j, slot_home(&r->tab[j], r->bits))) {
                r->tab[hole] = r->tab[j];
                hole = j;
            }
        }
        memset(&r->tab[hole], 0, sizeof r->tab[hole]);
    }
    if (mt_sample_filter) mt_filter_drop(ptr);
    return 1;
}

int mt_live_next(const struct mt_shard *sh, struct mt_live_cursor *c, struct mt_live *out) {
    for (; sh->directory && c->region <= sh->dir_mask; c->region++, c->slot = 0) {
        const struct mt_region *r = &sh->directory[c->region];
        if (!r->key) continue;
        while (c->slot < (1ull << r->bits)) {
            const struct slot *s = &r->tab[c->slot++];
            if (!s->v) continue;
            unpack(r, s, out, 0);
            return 1;
        }
    }
    return 0;
}

/* ---- the thread that records without locks (tracer.h) ---------------------- */
uint64_t mt_solo __attribute__((aligned(64))) = MT_SOLO_OFF; /* until mt_solo_init */
int mt_solo_busy[MT_SOLO_SLOTS];
__thread uint32_t mt_solo_slot __attribute__((tls_model("initial-exec")));
static uint32_t solo_slots, solo_claims;

static void solo_set_owner(uint32_t owner) {
    uint64_t solo = __atomic_load_n(&mt_solo, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(&mt_solo, &solo, (solo & ~0xffffffffull) | owner, 1, __ATOMIC_SEQ_CST,
                                        __ATOMIC_RELAXED)) {
    }
}

void mt_solo_init(int forked) {
    /* Registered once per process: fork's child registers again and starts
     * without an owner (an exec'd program starts over anyway), and with
     * nobody wanting the shards: a thread of the parent that was on its way
     * to them does not exist in the child. */
    int usable = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
    solo_claims = 0;
    if (forked) __atomic_store_n(&mt_solo, usable ? MT_SOLO_NONE : MT_SOLO_OFF, __ATOMIC_SEQ_CST);
    else solo_set_owner(usable ? MT_SOLO_NONE : MT_SOLO_OFF);
}

/* Keeps the owner out of its sections without a lock (when the owner is the
 * caller, it is in none).  An owner that a claim replaces meanwhile has left
 * them before the claim did, and the new one sees `wants`. */
static void solo_exclude(void) {
    uint32_t owner = mt_solo_owner(__atomic_add_fetch(&mt_solo, MT_SOLO_WANT, __ATOMIC_SEQ_CST));
    if (owner == MT_SOLO_NONE || owner == MT_SOLO_OFF) return;
    /* An owner that read `wants` before the add stored its flag before
     * reading it: membarrier makes that store visible here. */
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) {
        /* Cannot happen once registered; if it does, every record locks from
         * now on, and one that started without the lock has long ended. */
        solo_set_owner(MT_SOLO_OFF);
        const struct timespec ms = {0, 1000000};
        mt_sleep(&ms);
    }
    while (__atomic_load_n(&mt_solo_busy[owner], __ATOMIC_ACQUIRE)) sched_yield();
}

/* A thread that is not the owner is about to record: it becomes the owner,
 * unless owners have changed too often or it has no slot, and then nobody
 * ever owns again.  Taking every shard lock keeps the old owner out and
 * empties its young blocks. */
__attribute__((noinline)) void mt_solo_claim(void) {
    if (!mt_solo_slot) {
        uint32_t slot = __atomic_add_fetch(&solo_slots, 1, __ATOMIC_RELAXED);
        mt_solo_slot = slot < MT_SOLO_SLOTS ? slot : MT_SOLO_SLOTS;
    }
    mt_live_lock_all();
    /* The owner judges the peak by the published total and its own changes,
     * as if nobody else's were pending: the old owner's are published. */
    mt_tstats_publish();
    if (mt_solo_owner(__atomic_load_n(&mt_solo, __ATOMIC_RELAXED)) != MT_SOLO_OFF) {
        int may = mt_solo_slot < MT_SOLO_SLOTS && solo_claims < MT_SOLO_CLAIMS;
        if (may) solo_claims++;
        solo_set_owner(may ? mt_solo_slot : MT_SOLO_OFF);
    }
    mt_live_unlock_all();
}

/* ---- young blocks (tracer.h) ------------------------------------------------ */
#define YOUNG_BITS 12
static struct mt_live young[1u << YOUNG_BITS];
uint32_t mt_young_count;

static inline struct mt_live *young_place(uint64_t ptr) {
    return &young[(ptr >> 4) & ((1u << YOUNG_BITS) - 1)]; /* neighbours in memory, neighbours here */
}

MT_INLINE_HOT int mt_blocks_put(struct mt_shard *sh, const struct mt_live *e, int solo) {
    if ((e->flags & MT_SLOT_PADDED) && mt_inblock_put(sh, e) == 0) return 0;
    if (!solo) return mt_live_insert(sh, e);
    struct mt_live *y = young_place(e->ptr);
    int rc = 0;
    if (!y->ptr) mt_young_count++;
    /* The same address: a block whose free we missed, replaced as the live
     * table replaces one.  Another block that cannot enter the live table
     * is lost, as a new one would be, though its figures stay counted. */
    else if (y->ptr != e->ptr) rc = mt_live_insert(mt_shard_for(y->ptr), y);
    *y = *e;
    return rc;
}

MT_INLINE_HOT int mt_blocks_take(struct mt_shard *sh, uint64_t ptr, struct mt_live *out, int solo) {
    switch (mt_inblock_ready ? mt_inblock_take(sh, ptr, out) : 0) {
    case 1: return 1;
    case 2: return mt_live_remove(sh, ptr, out);
    case 3: return 0;
    }
    struct mt_live *y = solo ? young_place(ptr) : NULL;
    if (!y || y->ptr != ptr) return mt_live_remove(sh, ptr, out);
    *out = *y;
    y->ptr = 0;
    mt_young_count--;
    return 1;
}

int mt_blocks_set_flags(struct mt_shard *sh, uint64_t ptr, uint32_t set, uint32_t clear, int solo) {
    if (mt_inblock_ready && mt_inblock_set_flags(ptr, set, clear)) return 1;
    struct mt_live *y = solo ? young_place(ptr) : NULL;
    if (!y || y->ptr != ptr) return mt_live_set_flags(sh, ptr, set, clear);
    y->flags = (y->flags & ~(clear & MT_FLAG_BITS)) | (set & MT_FLAG_BITS);
    return 1;
}

/* With every shard lock held and the owner kept out. */
static void young_flush(void) {
    for (uint32_t i = 0; mt_young_count && i < (1u << YOUNG_BITS); i++) {
        if (!young[i].ptr) continue;
        if (mt_live_insert(mt_shard_for(young[i].ptr), &young[i]) != 0)
            __atomic_add_fetch(&mt_lost_allocations, 1, __ATOMIC_RELAXED);
        young[i].ptr = 0;
        mt_young_count--;
    }
}

__attribute__((noinline)) void mt_young_drain(void) {
    mt_live_lock_all();
    mt_live_unlock_all();
}

static void lock_shards(void) {
    solo_exclude();
    for (int i = 0; i < MT_SHARDS; i++) mt_lock(&mt_shards[i].lock);
}

void mt_live_lock_all(void) {
    lock_shards();
    uint64_t in_blocks = 0;
    for (int i = 0; i < MT_SHARDS; i++) in_blocks += mt_shards[i].in_blocks;
    if (in_blocks) mt_inblock_flush();
    if (mt_young_count) young_flush();
}

void mt_live_lock_all_unmoved(void) {
    lock_shards();
    if (mt_young_count) young_flush();
}

void mt_live_unlock_all(void) {
    for (int i = MT_SHARDS - 1; i >= 0; i--) mt_unlock(&mt_shards[i].lock);
    __atomic_sub_fetch(&mt_solo, MT_SOLO_WANT, __ATOMIC_SEQ_CST);
}
