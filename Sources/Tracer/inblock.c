/*
 * Records kept in the blocks themselves.
 *
 * The live table's cost is its cache misses: a million live blocks fill
 * 14 MiB of slots, and a slot is cold when its block goes in or comes out
 * (docs/performance.md).  So in exact mode the blocks of malloc, calloc and
 * realloc are handed out 8 bytes larger, and their record lives in those 8
 * bytes, at the end of the block's usable size: memory the allocator touches
 * anyway (its chunk header lies next to it), found again from
 * malloc_usable_size.  The owner's blocks (tracer.h: the thread that records
 * without locks), and every thread's once nobody owns; while another thread
 * owns, a thread is about to claim and cannot know whether it will win.
 *
 * Two bits per 16 bytes of address space, in leaves of 1 GiB reserved as they
 * are needed, say which blocks those are:
 *   - padded: the block carries the tracer's 8 bytes (malloc_usable_size
 *     answers 8 less), wherever its record is;
 *   - pending: its record is in the block, not in the live table.
 * Whoever takes every shard lock to look blocks up in the live table (fork,
 * the checks, a new owner) first moves the pending records into it
 * (mt_inblock_flush), so that it holds every block; the block's own record
 * is then marked moved.  Snapshots, and their leak scan, read them where
 * they are (mt_inblock_each).
 * A bit word covers 1 KiB of memory, inside one shard's 1 MiB: the owner
 * changes bits without a lock, any other thread under the shard's lock, and
 * each shard counts its pending records (in_blocks), so that two threads
 * never write one counter.
 *
 * No bit may outlive its block: the next flush would read a record in memory
 * the allocator may have given back to the system.  Every recorded release
 * clears it; the hooks keep a padded block rather than release it unrecorded
 * (hooks.c).  A program that writes past the size it asked for may
 * overwrite a record: each carries a check of its address, and a record that
 * fails it is treated as a block the tracer never saw.  All but one such
 * write: a byte one past the end (a string's terminator one too far) lands on
 * the record's lowest byte when the block's size leaves no slack before it;
 * such a record is read all the same (salvage) and counted as an overrun.
 */
#include <string.h>
#include <sys/resource.h>

#include "tracer.h"

#define LEAF_SHIFT 30                         /* a leaf covers 1 GiB */
#define TOP_ENTRIES (1u << (47 - LEAF_SHIFT)) /* user space below 2^47 */
#define MAX_LEAVES 255                        /* then blocks are not padded */
#define WORD_SPAN 1024u                       /* memory one 64-bit word of bits covers */
#define LEAF_WORDS (2ull << (LEAF_SHIFT - 10)) /* padded and pending words, interleaved */
#define PAGE_PAIRS 256u                       /* word pairs in a 4 KiB page of a leaf */
#define LEAF_PAGES (LEAF_WORDS / 2 / PAGE_PAIRS)

struct leaf {
    uint64_t *words;                  /* [2w]: padded, [2w + 1]: pending, for word w */
    uint64_t gib;                     /* the GiB covered, by number: its address is the first block's
                                       * of an allocator whose regions start there (LeakSanitizer's), and
                                       * a leak checker that reads the tracer's data took it for a pointer */
    uint64_t pages[LEAF_PAGES / 64];  /* pages that have held a pending bit */
};

static uint8_t *top; /* leaf number (1-based) of each GiB, 0: none */
static struct leaf leaves[MAX_LEAVES + 1];
static uint32_t leaf_count;
static mt_lock_t leaf_lock; /* a thread that lost ownership after padding a block may add a leaf too */
int mt_inblock_ready;

/* The record, from the top: a mark (bit 63, so that it never reads as a
 * pointer), moved (its live-table entry is the record now), the size (24
 * bits), the stack (21 bits), the block's flags (5 bits) and a 12-bit check of
 * the address in the lowest bits, where the most common overrun, a string's
 * terminating NUL one byte past a block whose size is a multiple of 16, lands. */
#define REC_MARK (1ull << 63)
#define REC_MOVED (1ull << 62)
#define REC_SIZE_SHIFT 38
#define REC_STACK_SHIFT 17
#define REC_FLAGS_SHIFT 12
#define REC_CHECK 0xfffull
_Static_assert(MT_INBLOCK_MAX_SIZE == (1u << 24) - 1, "sizes fit 24 bits");
_Static_assert(MT_FLAG_BITS == 31, "flags fit 5 bits");
_Static_assert(MT_MAX_STACKS <= 1u << 21, "stacks fit 21 bits");

static inline uint64_t check_of(uint64_t ptr) { return (ptr * 0x9e3779b97f4a7c15ull) >> 52; } /* 12 bits */

/* Under an address-space limit below a gigabyte, the leaves (16 MiB of
 * address space each) would take a good part of it: the records stay in the
 * live table, as sampling's do.  A program that lowers its limit that far
 * as it runs gets no new leaf (mt_inblock_limit); the leaves it has keep
 * their blocks' bits, and stay. */
static int small_limit(uint64_t limit) { return limit < (1ull << 30); }
static int no_more_leaves;

void mt_inblock_limit(uint64_t limit) {
    if (small_limit(limit)) __atomic_store_n(&no_more_leaves, 1, __ATOMIC_RELAXED);
}

void mt_inblock_init(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY && small_limit(limit.rlim_cur)) return;
    top = mt_reserve(TOP_ENTRIES);
    mt_inblock_ready = top != NULL;
}

void mt_inblock_stop(void) { mt_inblock_ready = 0; }

static inline struct leaf *leaf_of(uint64_t ptr) {
    if (MT_UNLIKELY(ptr >> 47 || !top)) return NULL;
    uint8_t n = __atomic_load_n(&top[ptr >> LEAF_SHIFT], __ATOMIC_ACQUIRE);
    return n ? &leaves[n] : NULL;
}

__attribute__((noinline, cold)) static struct leaf *leaf_make(uint64_t ptr) {
    if (ptr >> 47) return NULL;
    mt_lock(&leaf_lock);
    struct leaf *l = leaf_of(ptr);
    if (!l && leaf_count < MAX_LEAVES && !__atomic_load_n(&no_more_leaves, __ATOMIC_RELAXED)) {
        uint64_t *words = mt_reserve(LEAF_WORDS * sizeof *words);
        if (words) {
            l = &leaves[leaf_count + 1];
            l->words = words;
            l->gib = ptr >> LEAF_SHIFT;
            __atomic_store_n(&leaf_count, leaf_count + 1, __ATOMIC_RELEASE); /* after the leaf: see mt_inblock_resident_bytes */
            __atomic_store_n(&top[ptr >> LEAF_SHIFT], (uint8_t)leaf_count, __ATOMIC_RELEASE);
        }
    }
    mt_unlock(&leaf_lock);
    return l;
}

static inline uint64_t *pair_of(const struct leaf *l, uint64_t ptr) {
    return &l->words[2 * ((ptr & ((1ull << LEAF_SHIFT) - 1)) / WORD_SPAN)];
}
static inline uint64_t bit_of(uint64_t ptr) { return 1ull << ((ptr >> 4) & 63); }

static inline void *record_at(uint64_t ptr) {
    return (char *)(uintptr_t)ptr + mt_block_usable((void *)(uintptr_t)ptr) - 8;
}

static inline uint64_t pack(const struct mt_live *e, uint64_t moved) {
    return REC_MARK | moved | e->size << REC_SIZE_SHIFT | (uint64_t)e->stack << REC_STACK_SHIFT |
           (uint64_t)(e->flags & MT_FLAG_BITS) << REC_FLAGS_SHIFT | check_of(e->ptr);
}

static inline void decode(uint64_t ptr, uint64_t rec, struct mt_live *out) {
    *out = (struct mt_live){
        .ptr = ptr,
        .size = rec >> REC_SIZE_SHIFT & MT_INBLOCK_MAX_SIZE,
        .stack = (uint32_t)(rec >> REC_STACK_SHIFT) & ((1u << 21) - 1),
        .flags = ((uint32_t)(rec >> REC_FLAGS_SHIFT) & MT_FLAG_BITS) | MT_SLOT_PADDED,
    };
}

uint64_t mt_overrun_blocks;
struct mt_overrun_site mt_overrun_sites[MT_OVERRUN_SITES];

/* A record that fails its check.  If only its lowest byte differs, and the
 * size it holds leaves no slack between the block and the record (so that
 * the byte one past the block is that byte), the program wrote one byte past
 * its block: the rest of the record, 56 bits that had to come out exactly so,
 * is still the tracer's. */
__attribute__((noinline, cold)) static int salvage(uint64_t ptr, uint64_t rec, struct mt_live *out) {
    if ((rec & REC_MARK) == 0 || ((rec ^ check_of(ptr)) & REC_CHECK & ~0xffull) != 0) return 0;
    decode(ptr, rec, out);
    if (out->size != mt_block_usable((void *)(uintptr_t)ptr) - 8) return 0;
    __atomic_add_fetch(&mt_overrun_blocks, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < MT_OVERRUN_SITES; i++) { /* the first few stacks, each with its figures */
        struct mt_overrun_site *site = &mt_overrun_sites[i];
        uint32_t seen = 0;
        if (__atomic_compare_exchange_n(&site->stack_plus_one, &seen, out->stack + 1, 0, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED) ||
            seen == out->stack + 1) {
            __atomic_add_fetch(&site->count, 1, __ATOMIC_RELAXED);
            __atomic_add_fetch(&site->bytes, out->size, __ATOMIC_RELAXED);
            break;
        }
    }
    return 1;
}

static inline int unpack(uint64_t ptr, uint64_t rec, struct mt_live *out) {
    if (MT_UNLIKELY((rec & REC_MARK) == 0 || (rec & REC_CHECK) != check_of(ptr))) return salvage(ptr, rec, out);
    decode(ptr, rec, out);
    return 1;
}

/* Writes `e`'s record into its block and sets its padded bit; the bit pair, or
 * NULL when no leaf can hold it. */
static MT_INLINE_HOT uint64_t *write_record(const struct mt_live *e, uint64_t moved) {
    struct leaf *l = leaf_of(e->ptr);
    if (!l && !(l = leaf_make(e->ptr))) return NULL;
    uint64_t rec = pack(e, moved);
    memcpy(record_at(e->ptr), &rec, 8);
    uint64_t *pair = pair_of(l, e->ptr);
    pair[0] |= bit_of(e->ptr);
    if (!moved) {
        /* A summary word covers 16 MiB, so threads under different shard
         * locks may share it: an atomic OR, only when the bit is not set. */
        uint64_t page = (uint64_t)(pair - l->words) / 2 / PAGE_PAIRS, *sum = &l->pages[page / 64];
        uint64_t mark = 1ull << (page % 64);
        if (!(__atomic_load_n(sum, __ATOMIC_RELAXED) & mark)) __atomic_fetch_or(sum, mark, __ATOMIC_RELAXED);
    }
    return pair;
}

MT_INLINE_HOT int mt_inblock_put(struct mt_shard *sh, const struct mt_live *e) {
    uint64_t *pair = write_record(e, 0);
    if (!pair) return -1;
    pair[1] |= bit_of(e->ptr);
    sh->in_blocks++;
    return 0;
}

void mt_inblock_moved(const struct mt_live *e) {
    write_record(e, REC_MOVED); /* without a leaf the bit stays clear: usable sizes stay 8 more */
}

MT_INLINE_HOT int mt_inblock_take(struct mt_shard *sh, uint64_t ptr, struct mt_live *out) {
    struct leaf *l = leaf_of(ptr);
    if (!l) return 0;
    uint64_t *pair = pair_of(l, ptr), bit = bit_of(ptr);
    if (!(pair[0] & bit)) return 0;
    if (!(pair[1] & bit)) return 2; /* in the live table */
    pair[0] &= ~bit;
    pair[1] &= ~bit;
    sh->in_blocks--;
    uint64_t rec;
    memcpy(&rec, record_at(ptr), 8);
    return unpack(ptr, rec, out) ? 1 : 3;
}

void mt_inblock_forget(uint64_t ptr) {
    struct leaf *l = leaf_of(ptr);
    if (l) pair_of(l, ptr)[0] &= ~bit_of(ptr);
}

int mt_inblock_set_flags(uint64_t ptr, uint32_t set, uint32_t clear) {
    struct leaf *l = leaf_of(ptr);
    if (!l || !(pair_of(l, ptr)[1] & bit_of(ptr))) return 0;
    uint64_t rec, *at = record_at(ptr);
    memcpy(&rec, at, 8);
    rec = (rec & ~((uint64_t)(clear & MT_FLAG_BITS) << REC_FLAGS_SHIFT)) | (uint64_t)(set & MT_FLAG_BITS) << REC_FLAGS_SHIFT;
    memcpy(at, &rec, 8);
    return 1;
}

int mt_inblock_padded(const void *p) {
    if (!mt_inblock_ready) return 0;
    uint64_t ptr = (uint64_t)(uintptr_t)p;
    const struct leaf *l = leaf_of(ptr);
    return l && (__atomic_load_n(pair_of(l, ptr), __ATOMIC_RELAXED) & bit_of(ptr)) != 0;
}

/* The bits' leaves and the index of them are reservations, touched where
 * blocks are: what they cost is what is resident. */
uint64_t mt_inblock_resident_bytes(void) {
    if (!top) return 0;
    uint64_t bytes = mt_resident_bytes(top, TOP_ENTRIES);
    uint32_t count = __atomic_load_n(&leaf_count, __ATOMIC_ACQUIRE);
    for (uint32_t n = 1; n <= count; n++) bytes += mt_resident_bytes(leaves[n].words, LEAF_WORDS * sizeof(uint64_t));
    return bytes;
}

/* Moves a pending record into the live table (mt_live_insert marks the
 * block's own record moved), or forgets it: `e` NULL, a record overwritten,
 * as if never seen, as mt_inblock_take has it; or no room left for it. */
static void move(uint64_t ptr, const struct mt_live *e) {
    uint64_t *pair = pair_of(leaf_of(ptr), ptr), bit = bit_of(ptr);
    pair[1] &= ~bit;
    mt_shard_for(ptr)->in_blocks--;
    if (!e) {
        pair[0] &= ~bit;
    } else if (mt_live_insert(mt_shard_for(ptr), e) != 0) {
        pair[0] &= ~bit;
        __atomic_add_fetch(&mt_lost_allocations, 1, __ATOMIC_RELAXED);
    }
}

/* A batch of pending records for fn.  Each needs its block's header (the
 * usable size), then its record: two cache misses in a row, a block apart
 * from the next one's.  Asked for a batch ahead, they overlap (the first
 * snapshot of a heap of 2M blocks: 400 ms to 150 ms when it moved them all).
 * A record that fails its check is moved, as the flush would: salvaged and
 * counted as an overrun once, or forgotten; fn does not see it. */
#define BATCH 32
static void each_batch(const uint64_t *ptrs, unsigned n, mt_inblock_fn fn, void *ctx) {
    const void *recs[BATCH];
    size_t usable[BATCH];
    for (unsigned i = 0; i < n; i++) __builtin_prefetch((const char *)(uintptr_t)ptrs[i] - 8);
    for (unsigned i = 0; i < n; i++) {
        usable[i] = mt_block_usable((void *)(uintptr_t)ptrs[i]);
        __builtin_prefetch(recs[i] = (const char *)(uintptr_t)ptrs[i] + usable[i] - 8);
    }
    for (unsigned i = 0; i < n; i++) {
        uint64_t ptr = ptrs[i], rec;
        memcpy(&rec, recs[i], 8);
        struct mt_live e;
        if (MT_UNLIKELY((rec & REC_MARK) == 0 || (rec & REC_CHECK) != check_of(ptr))) {
            move(ptr, unpack(ptr, rec, &e) ? &e : NULL);
            continue;
        }
        decode(ptr, rec, &e);
        fn(&e, usable[i], ctx);
    }
}

/* With every shard lock held and the owner kept out: fn for each record kept
 * in a block, in address order.  The records stay where they are, so the
 * blocks' releases stay as cheap as before (a snapshot that moved them into
 * the live table left every later release of those blocks a miss there). */
void mt_inblock_each(mt_inblock_fn fn, void *ctx) {
    uint64_t batch[BATCH], pending_records = 0, seen = 0;
    unsigned n = 0;
    for (int i = 0; i < MT_SHARDS; i++) pending_records += mt_shards[i].in_blocks;
    for (uint32_t leaf = 1; seen < pending_records && leaf <= leaf_count; leaf++) {
        const struct leaf *l = &leaves[leaf];
        for (uint64_t page = 0; page < LEAF_PAGES && seen < pending_records; page++) {
            if (!(l->pages[page / 64] >> (page % 64) & 1)) continue;
            for (uint64_t w = page * PAGE_PAIRS; w < (page + 1) * PAGE_PAIRS; w++) {
                for (uint64_t pending = l->words[2 * w + 1]; pending; pending &= pending - 1) {
                    batch[n++] = (l->gib << LEAF_SHIFT) + w * WORD_SPAN + 16 * (uint64_t)__builtin_ctzll(pending);
                    seen++;
                    if (n == BATCH) {
                        each_batch(batch, n, fn, ctx);
                        n = 0;
                    }
                }
            }
        }
    }
    each_batch(batch, n, fn, ctx);
}

static void move_one(const struct mt_live *e, size_t usable, void *ctx) {
    (void)usable, (void)ctx;
    move(e->ptr, e);
}

/* With every shard lock held and the owner kept out: every pending record
 * into the live table, and the pages that held them marked empty. */
void mt_inblock_flush(void) {
    mt_inblock_each(move_one, NULL);
    for (uint32_t leaf = 1; leaf <= leaf_count; leaf++) memset(leaves[leaf].pages, 0, sizeof leaves[leaf].pages);
}
