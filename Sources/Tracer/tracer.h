/*
 * Internal interfaces of the tracer.  Nothing declared here is exported from
 * libtrace.so: the library is built with -fvisibility=hidden and only the
 * allocator entry points (hooks.c) and the memtrace_* API (api.c) are marked
 * MT_EXPORT.
 *
 * Data path:  hooks.c  ->  recorder.c  ->  unwind.c (+ cfi.c) -> stacktable.c / livetable.c
 *                                      ->  snapshot.c (+ modules.c, allocstats.c)
 *             control.c: start-up, configuration, signal/interval thread, fork, exit.
 *             signals.c: a snapshot when a signal (SIGTERM, SIGINT...) or _exit() ends the program.
 */
#ifndef MEMTRACE_TRACER_H
#define MEMTRACE_TRACER_H

#include <bits/types/sigset_t.h> /* sigset_t alone: signal.h names registers cfi.c names too */
#include <spawn.h>
#include <stddef.h>
#include <stdint.h>

#define MT_EXPORT __attribute__((visibility("default")))
#define MT_LIKELY(x) __builtin_expect(!!(x), 1)
#define MT_UNLIKELY(x) __builtin_expect(!!(x), 0)
/* For the steps of the allocation path that live in files of their own
 * (livetable.c, inblock.c) or are called from two places: inlined whole,
 * across files at link time, they spare a call each and the registers saved
 * around it; left to itself the compiler kept them out of line.  3.8% fewer
 * instructions on python3, 4% less time (docs/performance.md). */
#define MT_INLINE_HOT __attribute__((always_inline)) inline

/* Most frames a stack may keep; MEMTRACE_FRAMES is clamped to it. */
#define MT_MAX_FRAMES 256
#define MT_DEFAULT_FRAMES 64

/* ---- re-entrancy guard (recorder.c) -------------------------------------
 * Set while the tracer itself runs on this thread: any allocation made then
 * (by libunwind, dlsym, the snapshot writer, libc internals) goes straight to
 * the real allocator unrecorded.  Initial-exec TLS: the general-dynamic model
 * may call malloc on first access, which would recurse into the hooks.
 * Volatile: with the whole library in view (LTO) and the guard out of reach
 * of other libraries, the compiler took a call into them for one that cannot
 * read it, and left the guard raised only after dlsym returned, whose
 * allocations the hooks then recorded as the program's. */
extern __thread volatile int mt_guard __attribute__((tls_model("initial-exec")));
/* Releases this thread made while inside the tracer (from a signal handler
 * that interrupted it), held back until it leaves (hooks.c); and whether
 * this thread never leaves (the helper), so must not hold any back. */
extern __thread int mt_deferred_count __attribute__((tls_model("initial-exec")));
extern __thread int mt_never_leaves __attribute__((tls_model("initial-exec")));
void mt_free_deferred(void);

/* ---- configuration (control.c) ------------------------------------------ */
struct mt_config {
    int frames;             /* MEMTRACE_FRAMES */
    int signal;             /* MEMTRACE_SIGNAL; 0 = off */
    double interval;        /* MEMTRACE_INTERVAL seconds; 0 = off */
    double timeline;        /* MEMTRACE_TIMELINE seconds; 0 = off */
    int at_exit;            /* MEMTRACE_AT_EXIT (default 1) */
    int blocks;             /* MEMTRACE_BLOCKS (default 1) */
    int follow_fork;        /* MEMTRACE_FOLLOW_FORK (default 1) */
    int follow_exec;        /* MEMTRACE_FOLLOW_EXEC (default 1) */
    int leaks;              /* MEMTRACE_LEAKS: classify blocks at exit */
    int overrun_report;     /* MEMTRACE_OVERRUN_REPORT: name the heap overruns' sites at exit */
    int unwind_check;       /* MEMTRACE_UNWIND_CHECK: compare every walk with libunwind's */
    int libunwind;          /* MEMTRACE_LIBUNWIND: walk with libunwind only */
    char output[4096];      /* absolute file name pattern */
    char exe[4096];         /* /proc/self/exe at start */
    char own_malloc[4096];  /* the module whose malloc comes before the tracer's; "" when none */
    char *cmdline;          /* /proc/self/cmdline, NUL-separated */
    size_t cmdline_len;
    uint64_t start_time_ns; /* CLOCK_REALTIME */
};
extern struct mt_config mt_config;

/* Is recording on?  False before start-up, in a child that opted out, and
 * after a fatal tracer error. */
extern volatile int mt_enabled;

void mt_control_init(void);  /* once, from the first hook or the constructor */
void mt_control_start(void); /* from the constructor: starts the snapshot thread */
/* Asks the helper thread to look at its requests; 0 when there is none.
 * Async-signal-safe. */
int mt_helper_wake(void);
void mt_say(const char *s);       /* to standard error, never raising SIGPIPE */
/* A signal a system call raises at the caller when it fails (SIGPIPE for a
 * write to a closed pipe, SIGXFSZ past RLIMIT_FSIZE), held off this thread
 * around the tracer's own writes: the call fails instead, and the signal it
 * raised is taken back; one already pending is left for the program. */
struct mt_held_signal {
    sigset_t old;
    int sig, was_pending;
};
void mt_hold_signal(struct mt_held_signal *h, int sig);
void mt_release_signal(struct mt_held_signal *h, int raised); /* raised: the call failed with its errno */
uint64_t mt_now_ns(void);        /* CLOCK_REALTIME */
uint64_t mt_coarse_now_ns(void); /* CLOCK_REALTIME_COARSE: a few ms of resolution, much cheaper */
void mt_warn(const char *what, const char *path, int err); /* once per kind */

/* ---- memory for the tracer (arena.c) --------------------------------------
 * Never from the traced malloc: anonymous mappings only. */
void *mt_map(size_t bytes);                /* zeroed, NULL on failure */
/* open(2), close-on-exec, on a descriptor out of the program's way (arena.c). */
int mt_open(const char *path, int flags, unsigned mode);
void *mt_reserve(size_t bytes);            /* MAP_NORESERVE, pages cost only when touched */
void mt_reserve_shrink(void *p, size_t bytes, size_t keep); /* keeps the first `keep` bytes */
void mt_unmap(void *p, size_t bytes);
extern uint64_t mt_mapped_bytes;           /* for tracer_overhead_bytes */
struct mt_range {
    uint64_t lo, hi;
};
/* The tracer's mappings (entries with lo 0 were unmapped); -1 when there were
 * more than it keeps. */
int mt_own_mappings(const struct mt_range **ranges);
/* The helper thread's stack, when it runs (control.c). */
extern struct mt_range mt_helper_stack;
extern int mt_helper_tid;
extern uint64_t mt_initial_sp; /* the main thread's stack pointer as the tracer started */
void mt_helper_wait_started(void);
size_t mt_page_size(void);
uint64_t mt_resident_bytes(const void *p, size_t bytes); /* of a reservation, by mincore */

/* ---- spin lock -------------------------------------------------------------
 * Short critical sections only; pthread mutexes would do but a byte-sized
 * lock keeps shards small and never allocates. */
typedef struct { int v; } mt_lock_t;
void mt_lock_slow(mt_lock_t *l);
struct timespec;
void mt_sleep(const struct timespec *t); /* nanosleep that is no cancellation point: arena.c */
static inline void mt_lock(mt_lock_t *l) {
    if (MT_LIKELY(__atomic_exchange_n(&l->v, 1, __ATOMIC_ACQUIRE) == 0)) return;
    mt_lock_slow(l);
}
static inline void mt_unlock(mt_lock_t *l) { __atomic_store_n(&l->v, 0, __ATOMIC_RELEASE); }

/* ---- unwinding (unwind.c) ------------------------------------------------ */
void mt_unwind_init(void);
/* Walks the calling thread's stack into buf, which holds max +
 * MT_UNWIND_SLACK entries (room for the tracer's own frames).  Sets *pcs to
 * the first frame outside the tracer (innermost first, return address - 1)
 * and returns how many follow it, at most max; sets *truncated when the stack
 * is deeper, and *hash to the stack's hash for mt_stack_intern when the walk
 * knows it (else 0).  `entry`, when not NULL, is the frame address of the hook
 * the program called (built with frame pointers): the walk starts at its
 * caller instead of stepping through the tracer's own frames. */
#define MT_UNWIND_SLACK 8
int mt_unwind(uint64_t *buf, int max, int *truncated, const uint64_t **pcs, uint64_t *hash, const void *entry);
/* The id of the stack of the hook's caller (`entry` as for mt_unwind) when
 * the thread has met the same stack at the same place before, else 0; after
 * a walk for which it gave 0, mt_unwind_learn(id) keeps the stack for next
 * time. */
uint32_t mt_unwind_known(const void *entry);
void mt_unwind_learn(uint32_t stack);
/* The real depth of the calling thread's stack, the tracer's frames excluded. */
uint32_t mt_unwind_full_depth(void);
void mt_unwind_flush(void);
void mt_unwind_thread_exit(void); /* the calling thread is ending: drop its remembered stack */

/* ---- frame rules from .eh_frame (cfi.c) ----------------------------------- */
/* MT_CFI_NOINFO: no unwind information covers the address at all (code
 * without tables, or not in any module); a kind of MT_CFI_UNSUPPORTED. */
enum { MT_CFI_UNSUPPORTED = 1, MT_CFI_OK = 2, MT_CFI_END = 3, MT_CFI_NOINFO = MT_CFI_UNSUPPORTED | 4 };
struct mt_cfi_rule {
    int32_t cfa_off;  /* CFA = (cfa_is_rbp ? rbp : rsp) + cfa_off; return address at CFA-8 */
    int16_t rbp_off;  /* caller's rbp saved at CFA + rbp_off; 0: rbp unchanged */
    uint8_t cfa_is_rbp;
};
/* The rule for code address ip (a return address minus one, or an exact pc). */
int mt_cfi_rule(uint64_t ip, struct mt_cfi_rule *out);
void mt_cfi_forget_modules(void);
void mt_cfi_lock(void);
void mt_cfi_unlock(void);
int mt_is_self_address(uint64_t address); /* inside libtrace.so's own mapping */
void mt_self_range(uint64_t *lo, uint64_t *hi); /* its first to last loaded byte, .bss included */

/* ---- stack table (stacktable.c) ------------------------------------------ */
struct mt_stack {
    uint64_t hash;
    uint64_t frames; /* index of pc[0] in the frame store */
    uint32_t depth;
    uint32_t true_depth;
};
_Static_assert(sizeof(struct mt_stack) == 24, "stack record is 24 bytes");

int mt_stacks_init(void);
/* The program lowered its address-space limit to `limit` bytes: the stack
 * table gives back what it reserved beyond an eighth of it and does not use. */
void mt_stacks_fit_limit(uint64_t limit);
/* Interns a stack and returns its id (0 = unknown/overflow).  A truncated
 * stack's real depth is measured once, when the stack is first seen. */
uint32_t mt_stack_intern(const uint64_t *pcs, uint32_t depth, int truncated, uint64_t hash);
void mt_stacks_thread_exit(void); /* the calling thread is ending: drop its recent stacks */
/* A stack's hash folds its pcs from the outermost inwards, so that the hash
 * of a stack's outer part can be kept and extended (unwind.c); `hash` above is
 * mt_stack_hash_finish of that fold, or 0 to have it computed. */
#define MT_STACK_HASH_SEED 0x9e3779b97f4a7c15ull
static inline uint64_t mt_stack_hash_step(uint64_t h, uint64_t pc) {
    h ^= pc;
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 32);
}
static inline uint64_t mt_stack_hash_finish(uint64_t h, uint32_t depth) {
    h = mt_stack_hash_step(h, depth);
    return h ? h : 1;
}
static inline uint64_t mt_stack_hash(const uint64_t *pcs, uint32_t depth) {
    uint64_t h = MT_STACK_HASH_SEED;
    for (uint32_t i = depth; i-- > 0;) h = mt_stack_hash_step(h, pcs[i]);
    return mt_stack_hash_finish(h, depth);
}
#define MT_MAX_STACKS (1u << 21) /* 2M distinct stacks; the live table keeps ids in 21 bits */
uint32_t mt_stack_count(void);
struct mt_stack *mt_stack_get(uint32_t id);
const uint64_t *mt_stack_frames(const struct mt_stack *s);
uint64_t mt_stacks_overhead(void);
void mt_stacks_lock_all(void);
void mt_stacks_unlock_all(void);
extern uint64_t mt_lost_allocations;

/* ---- sampling (sampler.c) -------------------------------------------------- */
#define MT_FILTER_CELLS (1u << 20) /* a power of two: see mt_filter_index */
extern uint64_t mt_sample_rate;    /* 0: exact mode */
extern uint8_t *mt_sample_filter;  /* counting filter of sampled live blocks */
/* One bit per cell: count > 0 (128 KiB); its summary is mt_filter_summary. */
extern uint64_t *mt_sample_bits;
/* The filter's cells change only under their region's lock, taken under a
 * shard lock (or alone), so whoever holds every shard lock finds them free. */
void mt_filter_add(uint64_t ptr);
void mt_filter_drop(uint64_t ptr);
void mt_filter_pin(const void *p, uint64_t bytes); /* cells set for good; no-op in exact mode */
/* The bootstrap buffer's start and how much of it is handed out (hooks.c). */
uint64_t mt_boot_used(const void **start);
extern __thread int64_t mt_sample_countdown __attribute__((tls_model("initial-exec")));
void mt_sampler_init(uint64_t rate, uint64_t seed);
void mt_sampler_after_fork_child(void);
int mt_sample_slow(size_t size);
/* Should an allocation of `size` bytes be recorded?  Always yes in exact mode. */
static inline int mt_sample(size_t size) {
    if (MT_LIKELY(!mt_sample_rate)) return 1;
    mt_sample_countdown -= (int64_t)size;
    if (MT_LIKELY(mt_sample_countdown > 0)) return 0;
    return mt_sample_slow(size);
}
/* The hooks' first test: in sampling mode, an allocation short of the
 * countdown is not sampled and only forwarded, before any other test (the
 * countdown is above 0 only once this thread has drawn one, so the tracer is
 * started).  It counts down even while nothing is recorded: restricted to the
 * recorded bytes the process is still Poisson.  Exact mode keeps the
 * countdown at 0, so this is never true there. */
static inline int mt_sample_skip(size_t size) {
    if (MT_LIKELY((uint64_t)mt_sample_countdown > size)) {
        mt_sample_countdown -= (int64_t)size;
        return 1;
    }
    return 0;
}
/* An allocation reached the countdown while nothing is recorded (the guard,
 * memtrace_disable): the countdown is drawn anew, or the next recorded
 * allocation would be sampled early. */
void mt_sample_forget(size_t size);
/* The estimated bytes and blocks one recorded block of `size` stands for:
 * itself in exact mode (inline: this is on every allocation and release). */
void mt_sample_weights_slow(uint64_t size, uint64_t ptr, int64_t *bytes, int64_t *count);
static inline void mt_sample_weights(uint64_t size, uint64_t ptr, int64_t *bytes, int64_t *count) {
    if (MT_LIKELY(!mt_sample_rate)) {
        *bytes = (int64_t)size;
        *count = 1;
        return;
    }
    mt_sample_weights_slow(size, ptr, bytes, count);
}
double mt_ln(double x);
double mt_exp(double x);

/* ---- live blocks (livetable.c) ------------------------------------------- */
static inline uint64_t mt_mix(uint64_t x) {
    /* splitmix64's finaliser: heap addresses differ in few, low bits. */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}
/* Blocks are placed by address: all blocks of one 1 MiB stretch of address
 * space live in the same shard, because a program allocates and frees
 * neighbouring blocks together and a random placement made every insert and
 * every free a cache miss (measured: 18% of the time of a traced python3).
 * A stretch of 64 KiB per shard was still too fine: a heap of a few MiB then
 * spread every thread over all 256 shards, each allocation touching a cold
 * shard, and two threads wrote the same shards' lines in turn (1 MiB: churn
 * 5-13% faster with one thread, 6% with two).  Thread arenas and allocator
 * chunks are larger than that, so threads still meet in few shards. */
#define MT_SHARD_SHIFT 20
static inline uint32_t mt_shard_index(uint64_t ptr) {
    return (uint32_t)(((ptr >> MT_SHARD_SHIFT) * 0x9e3779b97f4a7c15ull) >> 56); /* Fibonacci hashing: one multiply */
}
/* A block's filter cell is its address in 16-byte units (allocators align
 * blocks to 16), within one of eight regions of the address space: its
 * 64 MiB stretch, modulo eight.  glibc gives each thread's arena a stretch
 * of 64 MiB of its own, so threads that allocate from different arenas
 * change different lines of the filter as their sampled blocks come and go,
 * and read only lines that they alone change (with one set of lines for all,
 * each sampled block's arrival and departure took the line from every other
 * thread's cache: sampling at 8 KiB, two threads of churn 4% to 6% faster
 * apart).
 * Blocks 2 MiB apart in a region share a cell, which the counts allow for.
 * A free reads the region's summary first (one bit a word of the bitmap,
 * that is a bit for 1 KiB of memory; 256 bytes a region, on lines of their
 * own): it stays in the cache, where the bitmap did not (read at random by a
 * program that frees all over its heap, they were 40% of the cache misses
 * sampling added to churn, cachegrind); the bitmap is read only in the few
 * stretches of 1 KiB that hold a sampled block.  The summary is static and
 * sparse: a region's 32 words start 8 KiB after the previous region's, so
 * that a free finds its word from two runs of the block's address bits
 * (16-20, the word; 26-28, the region) with one shift and one mask. */
#define MT_FILTER_REGIONS 8
#define MT_FILTER_REGION_SHIFT 26
#define MT_FILTER_REGION_CELLS (MT_FILTER_CELLS / MT_FILTER_REGIONS)
#define MT_FILTER_SUMMARY_STRIDE (1u << (MT_FILTER_REGION_SHIFT - 16)) /* words from a region's to the next's */
#define MT_FILTER_SUMMARY_WORDS ((MT_FILTER_REGIONS - 1) * MT_FILTER_SUMMARY_STRIDE + 32)
extern uint64_t mt_filter_summary[MT_FILTER_SUMMARY_WORDS];
static inline uint32_t mt_filter_region(uint64_t ptr) {
    return (uint32_t)(ptr >> MT_FILTER_REGION_SHIFT) & (MT_FILTER_REGIONS - 1);
}
static inline uint32_t mt_filter_index(uint64_t ptr) {
    return ((uint32_t)(ptr >> 4) & (MT_FILTER_REGION_CELLS - 1)) | mt_filter_region(ptr) * MT_FILTER_REGION_CELLS;
}
/* Whether the summary says `ptr`'s stretch of 1 KiB may hold a sampled
 * block: the bit of its cell's bitmap word (cell >> 6), found from the
 * address without the cell. */
static inline int mt_filter_summary_bit(const void *p) {
    uint64_t ptr = (uint64_t)(uintptr_t)p;
    uint64_t word = (ptr >> 16) & ((MT_FILTER_REGIONS - 1) * MT_FILTER_SUMMARY_STRIDE | 31); /* region, word */
    return (int)((__atomic_load_n(&mt_filter_summary[word], __ATOMIC_RELAXED) >> ((ptr >> 10) & 63)) & 1);
}
static inline int mt_filter_bit(const uint64_t *bits, const void *ptr) {
    uint32_t i = mt_filter_index((uint64_t)(uintptr_t)ptr);
    return (int)((__atomic_load_n(&bits[i >> 6], __ATOMIC_RELAXED) >> (i & 63)) & 1);
}
/* Has the sampling filter (published) never seen `ptr`?  The bitmap's
 * pointer is loaded only where the summary says to look. */
static inline int mt_filter_surely_unsampled(const void *ptr) {
    return MT_LIKELY(!mt_filter_summary_bit(ptr)) || !mt_filter_bit(mt_sample_bits, ptr);
}
/* Could `ptr` be a recorded block?  Lock-free; exact mode always says yes. */
static inline int mt_maybe_recorded(const void *ptr) {
    if (MT_LIKELY(!mt_sample_rate)) return 1;
    return !mt_filter_surely_unsampled(ptr);
}
/* The hooks' first test on a block handed back: in sampling mode (the bitmap
 * is published only then, and only once the tracer has started: exact mode
 * goes on at once), a block the filter has never seen is only forwarded. */
static inline int mt_surely_unrecorded(const void *ptr) {
    const uint64_t *bits = __atomic_load_n(&mt_sample_bits, __ATOMIC_ACQUIRE);
    return bits != NULL && mt_filter_surely_unsampled(ptr);
}
/* A live block as the recorder sees it. */
struct mt_live {
    uint64_t ptr;
    uint64_t size;
    uint32_t stack;
    uint32_t flags;
};

/* Flags kept with each live block (livetable.c and inblock.c store them in
 * five bits). */
#define MT_FLAG_BITS 31u
#define MT_SLOT_IGNORED 1u /* memtrace_ignore(): never a leak (same bit on disk) */
#define MT_SLOT_REGION 2u  /* allocated since memtrace_region_begin() */
#define MT_SLOT_PADDED 4u  /* carries the tracer's 8 bytes at its end (inblock.c); never on disk */
#define MT_SLOT_KIND_SHIFT 3 /* two bits: how it was allocated (enum mt_kind); never on disk */
/* How a block was allocated, and how it is released: a block of operator new
 * released by free, or of new[] by delete, is a mismatched release (checks.c),
 * as valgrind memcheck and AddressSanitizer report it. */
enum mt_kind { MT_KIND_MALLOC = 0, MT_KIND_NEW = 1, MT_KIND_NEW_ARRAY = 2 };
enum mt_release { MT_RELEASE_FREE, MT_RELEASE_DELETE, MT_RELEASE_DELETE_ARRAY, MT_RELEASE_REALLOC, MT_RELEASE_ANY };
static inline uint32_t mt_kind_flags(enum mt_kind kind) { return (uint32_t)kind << MT_SLOT_KIND_SHIFT; }
static inline enum mt_kind mt_flags_kind(uint32_t flags) { return (enum mt_kind)((flags >> MT_SLOT_KIND_SHIFT) & 3u); }
/* Whether releasing a block of `flags` this way matches how it was allocated. */
static inline int mt_release_matches(uint32_t flags, enum mt_release how) {
    static const unsigned char expected[] = {MT_KIND_MALLOC, MT_KIND_NEW, MT_KIND_NEW_ARRAY, MT_KIND_MALLOC};
    return how == MT_RELEASE_ANY || mt_flags_kind(flags) == expected[how];
}

#define MT_SHARDS 256
struct mt_region; /* livetable.c */
struct mt_shard {
    mt_lock_t lock;
    uint32_t dir_mask;           /* directory capacity - 1; 0 until first use */
    uint64_t count;              /* live blocks */
    uint64_t regions;            /* directory entries in use */
    struct mt_region *directory; /* 64 KiB stretches of memory holding live blocks */
    /* Call counters, under the shard lock: no shared counter on the hot path. */
    uint64_t alloc_calls, free_calls, realloc_calls, alloc_bytes, untracked_frees;
    uint64_t in_blocks; /* records of its blocks kept in the blocks, not in its table (inblock.c) */
} __attribute__((aligned(128)));

extern struct mt_shard mt_shards[MT_SHARDS];
static inline struct mt_shard *mt_shard_for(uint64_t ptr) { return &mt_shards[mt_shard_index(ptr)]; }

/* ---- young blocks (livetable.c) ---------------------------------------------
 * The owner's newest blocks (the owner: below) wait in a small table of their
 * own (4,096 places, a block's fixed by its address) before they enter the
 * live table: a block freed while it waits never enters it at all (nearly all
 * of sqlite3's, 40% of python3's), and a block put where another waits sends
 * that one in.  Only the owner uses the table, in the sections mt_shard_enter
 * opens without a lock; whoever takes every shard lock (a new owner too)
 * empties it into the live table first, and so does the first record that
 * takes a shard lock while blocks wait. */
extern uint32_t mt_young_count; /* blocks waiting there */
void mt_young_drain(void);      /* every waiting block into the live table */
/* A block's record wherever it is kept: in the block when the hooks padded
 * it (inblock.c), else in the young table when `solo` (the owner, in a
 * section without a lock), else in the live table.  Each returns as the
 * mt_live_* function it stands for (below); `sh` is the block's shard, whose
 * lock the caller holds unless `solo`. */
int mt_blocks_put(struct mt_shard *sh, const struct mt_live *e, int solo);
int mt_blocks_take(struct mt_shard *sh, uint64_t ptr, struct mt_live *out, int solo);
int mt_blocks_set_flags(struct mt_shard *sh, uint64_t ptr, uint32_t set, uint32_t clear, int solo);

/* ---- records kept in the blocks (inblock.c) ----------------------------------
 * Exact mode's malloc, calloc and realloc, when the owner calls them or once
 * nobody owns, hand out blocks 8 bytes larger and keep the record there;
 * mt_live_lock_all moves those records into the live table.  Called by the
 * owner, or with the shard's lock (or every lock). */
#define MT_INBLOCK_MAX_SIZE ((1u << 24) - 1) /* larger blocks are not padded */
extern int mt_inblock_ready;
void mt_inblock_init(void);
void mt_inblock_limit(uint64_t limit); /* the program set its address-space limit: under 1 GiB, no new leaf */
void mt_inblock_stop(void); /* tracing stopped (a child that opted out): bits mean nothing */
int mt_inblock_put(struct mt_shard *sh, const struct mt_live *e); /* 0, or -1: no room for its bits */
void mt_inblock_moved(const struct mt_live *e); /* mt_live_insert: a padded block's record is its slot now */
/* 0: not a padded block; 1: its record, removed; 2: its record is in the live
 * table (the padded bit is cleared by mt_live_remove); 3: its record was
 * overwritten (bits cleared). */
int mt_inblock_take(struct mt_shard *sh, uint64_t ptr, struct mt_live *out);
void mt_inblock_forget(uint64_t ptr); /* clears the padded bit */
int mt_inblock_set_flags(uint64_t ptr, uint32_t set, uint32_t clear); /* 1: its record is in the block */
int mt_inblock_padded(const void *p); /* lock-free: for malloc_usable_size and the hooks */
uint64_t mt_inblock_resident_bytes(void); /* the bits' memory, for tracer_overhead_bytes */
/* Records whose first byte the program overwrote, one byte past the size it
 * asked for (the block's figures kept right all the same): how many, and the
 * first few stacks of those blocks with their own counts, for snapshots and
 * the report at exit. */
#define MT_OVERRUN_SITES 16
struct mt_overrun_site {
    uint32_t stack_plus_one; /* 0: unused */
    uint64_t count, bytes;
};
extern uint64_t mt_overrun_blocks;
extern struct mt_overrun_site mt_overrun_sites[MT_OVERRUN_SITES];
void mt_overrun_report(void); /* on stderr, when there were any (checks.c) */
/* Blocks released otherwise than allocated (free of new, delete of new[],
 * delete of malloc...) or by a sized delete that names another size than the
 * block's (a class deleted through a base without a virtual destructor),
 * grouped by both stacks and both ways, the first MT_MISMATCH_SITES groups
 * kept (checks.c).  A group whose ways match is one of sizes. */
#define MT_MISMATCH_SITES 16
struct mt_mismatch_site {
    uint64_t key; /* 0: unused; else mt_mismatch_key() */
    uint64_t count, bytes;
    uint64_t named_size; /* a sized delete's size, when that was what did not match (the first seen) */
};
extern uint64_t mt_mismatch_blocks;
extern struct mt_mismatch_site mt_mismatch_sites[MT_MISMATCH_SITES];
static inline uint64_t mt_mismatch_key(uint32_t alloc_stack, uint32_t release_stack, enum mt_kind kind,
                                       enum mt_release how) {
    return 1ull << 63 | (uint64_t)kind << 60 | (uint64_t)how << 56 | (uint64_t)alloc_stack << 28 | release_stack;
}
static inline uint32_t mt_mismatch_alloc_stack(uint64_t key) { return (uint32_t)(key >> 28) & ((1u << 28) - 1); }
static inline uint32_t mt_mismatch_release_stack(uint64_t key) { return (uint32_t)key & ((1u << 28) - 1); }
static inline enum mt_kind mt_mismatch_kind(uint64_t key) { return (enum mt_kind)((key >> 60) & 3); }
static inline enum mt_release mt_mismatch_how(uint64_t key) { return (enum mt_release)((key >> 56) & 3); }
/* Called by the hook itself, whose caller released the block (not inlined);
 * `size`: the sized delete's, 0 from the other releases. */
void mt_mismatch_found(const struct mt_live *e, enum mt_release how, size_t size);
void mt_mismatch_report(void); /* on stderr, when there were any */
void mt_inblock_flush(void); /* every record kept in a block into the live table */
/* Every record kept in a block, read where it is (snapshots), with the
 * block's usable size; one that fails its check is moved into the live
 * table as the flush would, and fn does not see it. */
typedef void (*mt_inblock_fn)(const struct mt_live *e, size_t usable, void *ctx);
void mt_inblock_each(mt_inblock_fn fn, void *ctx);

/* ---- one thread records without shard locks (livetable.c) -----------------
 * Most programs allocate from one thread, often beside others that do not (a
 * main thread waiting for its worker, idle pool threads, the tracer's own
 * helper), and the shard lock's atomic exchange is most of what a shard costs.
 * So one thread, the owner, records without it: it says it is busy with plain
 * stores to a flag of its own, and whoever takes every shard lock
 * (mt_live_lock_all: snapshots, fork, the checks) first raises `wants`, makes
 * every thread's stores visible with membarrier(2) and waits for the owner's
 * flag to drop; while `wants` is up, the owner takes the shard locks like any
 * other thread.  Any other thread that records first takes ownership the same
 * way (mt_solo_claim), so while there is an owner no other thread records; after
 * MT_SOLO_CLAIMS changes of owner (threads taking turns) every thread takes
 * the locks for good.  Without membarrier there is never an owner. */
#define MT_SOLO_SLOTS 1024 /* threads that may own (slots 1 on); later ones end ownership */
#define MT_SOLO_CLAIMS 16
#define MT_SOLO_NONE 0xfffffffeu /* owner: none yet */
#define MT_SOLO_OFF 0xffffffffu  /* owner: none ever again */
/* The owner's slot in the low half, `wants` in the high half: the owner
 * finds both in one load (`== its slot` when it owns and nobody wants). */
extern uint64_t mt_solo;
#define MT_SOLO_WANT (1ull << 32)
/* The helper asks for the allocator's statistics (control.c): the top bit,
 * above any count of `wants`. */
#define MT_SOLO_STATS (1ull << 63)
int mt_allocator_serve(void); /* reads them for the helper that asked; 1 when it did */
static inline uint32_t mt_solo_owner(uint64_t solo) { return (uint32_t)solo; }
extern int mt_solo_busy[MT_SOLO_SLOTS];
extern __thread uint32_t mt_solo_slot __attribute__((tls_model("initial-exec"))); /* 0 until it records */
void mt_solo_init(int forked); /* at start-up, and in fork's child (forked = 1) */
void mt_solo_claim(void);
/* Is the calling thread the owner (so the only thread recording)? */
static inline int mt_solo_mine(void) {
    return mt_solo_owner(__atomic_load_n(&mt_solo, __ATOMIC_RELAXED)) == mt_solo_slot;
}
/* How many bytes the hooks add to a block of `size` about to be recorded:
 * the owner's, or anyone's once nobody owns (a thread that does not own
 * while another does is about to claim, and cannot know it will win). */
static inline size_t mt_inblock_pad(size_t size) {
    if (!mt_inblock_ready || mt_sample_rate || size >= MT_INBLOCK_MAX_SIZE) return 0;
    uint32_t owner = mt_solo_owner(__atomic_load_n(&mt_solo, __ATOMIC_RELAXED));
    return owner == mt_solo_slot || owner == MT_SOLO_OFF ? 8 : 0;
}
/* Returns whether it took the shard's lock, for mt_shard_leave.  A thread
 * takes the lock only when nobody owns any more, or when it owns and someone
 * wants the shards; having waited for the lock, it checks again: a claim may
 * have made another thread the owner meanwhile, whose records take no lock. */
int mt_shard_enter_slow(struct mt_shard *sh); /* recorder.c: every case but the owner's */
static MT_INLINE_HOT int mt_shard_enter(struct mt_shard *sh) {
    /* The owner's case inline (always: once the compiler chose to call it
     * instead, which cost churn 1.7% more instructions). */
    uint64_t me = mt_solo_slot;
    if (MT_LIKELY(__atomic_load_n(&mt_solo, __ATOMIC_RELAXED) == me)) {
        __atomic_store_n(&mt_solo_busy[me], 1, __ATOMIC_RELAXED);
        __atomic_signal_fence(__ATOMIC_SEQ_CST); /* the fence is the taker's membarrier */
        if (MT_LIKELY(__atomic_load_n(&mt_solo, __ATOMIC_RELAXED) == me)) return 0;
        __atomic_store_n(&mt_solo_busy[me], 0, __ATOMIC_RELEASE);
    }
    return mt_shard_enter_slow(sh);
}
static inline void mt_shard_leave(struct mt_shard *sh, int locked) {
    if (MT_LIKELY(!locked)) __atomic_store_n(&mt_solo_busy[mt_solo_slot], 0, __ATOMIC_RELEASE);
    else mt_unlock(&sh->lock);
}
/* The following require the shard's lock. */
int mt_live_insert(struct mt_shard *sh, const struct mt_live *e); /* 0 ok, -1 no memory */
int mt_live_remove(struct mt_shard *sh, uint64_t ptr, struct mt_live *out); /* 1 found */
int mt_live_set_flags(struct mt_shard *sh, uint64_t ptr, uint32_t set, uint32_t clear); /* 1 found */
void mt_live_clear_flags(struct mt_shard *sh, uint32_t clear); /* on every block of the shard */
/* Walks a shard's blocks: start with a zeroed cursor; 0 when there are no more.
 * The shard must not change during the walk. */
struct mt_live_cursor {
    uint64_t region, slot;
};
int mt_live_next(const struct mt_shard *sh, struct mt_live_cursor *c, struct mt_live *out);
void mt_live_lock_all(void);
/* The same, but the records kept in blocks stay there: for whoever reads
 * them with mt_inblock_each too (snapshots, and their leak scan). */
void mt_live_lock_all_unmoved(void);
void mt_live_unlock_all(void);

/* ---- threads (threadstats.c keeps the registry, leaks.c fills and reads it) ---- */
struct mt_thread {
    int tid;
    int suspended;           /* set by the suspend handler */
    uint64_t stack_lo, stack_hi;
    /* From here to stack_hi the stack is known to be mapped, readable and
     * writable (the unwinder reads frames there directly): a thread's whole
     * stack, which glibc maps at once; for the main thread, whose range
     * pthread_getattr_np gives as its size limit, mostly unmapped, the stack
     * as far down as a walk has found it to reach (unwind.c). */
    uint64_t mapped_lo;
    int main_thread;
    uint64_t tcb;            /* pthread_self(): the thread control block, static TLS below it */
    uint64_t sp;             /* stack pointer when suspended */
    uint64_t regs[32];       /* general registers when suspended */
};
/* Fills in the calling thread's id and stack; returns 0 when the stack is left
 * for later, because the thread is inside pthread_getattr_np (hooks.c). */
int mt_thread_describe(struct mt_thread *t);
/* Whether every page of [lo, hi) is mapped (mincore; 0 past 32 MiB). */
int mt_range_mapped(uint64_t lo, uint64_t hi);
extern __thread int mt_in_getattr __attribute__((tls_model("initial-exec")));
struct mt_thread *mt_thread_self(void);
/* Requires every shard lock (the registry changes only under them or by prepending). */
void mt_threads_foreach(void (*fn)(struct mt_thread *, void *), void *context);
/* The stacks of the threads that ended, which glibc may keep mapped for the
 * next threads (the latest MT_ENDED_STACKS distinct ones), with each one's
 * thread control block (a joinable thread's result waits there); every
 * shard lock. */
#define MT_ENDED_STACKS 512
void mt_ended_stacks_foreach(void (*fn)(uint64_t lo, uint64_t hi, uint64_t tcb, int main_thread));
/* pthread_join (and its kin) collected the result of the thread `tcb`:
 * mt_ended_stacks_foreach gives its control block as 0 from now on. */
void mt_thread_joined(uint64_t tcb);

/* ---- per-thread statistics (threadstats.c) --------------------------------
 * One thread's share of one stack's figures; the stack's figures are the sum
 * over threads.  Signed: a block freed by another thread than the one that
 * allocated it makes the freeing thread's share negative. */
struct mt_tstat {
    uint32_t stack_plus_one; /* 0: empty slot */
    uint32_t pad;
    int64_t live_bytes, live_count;
    int64_t total_bytes, total_count;
    int64_t peak_bytes, peak_count; /* at the latest global peak, see recorder.c */
    uint64_t seen_epoch;
};
_Static_assert(sizeof(struct mt_tstat) == 64, "per-thread stat is one cache line");
void mt_tstats_init(void);
/* Allocations by size class (heaptrack's histogram of allocation sizes):
 * class c holds the blocks of 2^c to 2^(c+1) - 1 bytes, class 0 those of 0
 * and 1 byte.  Two instructions on every allocation. */
#define MT_SIZE_CLASSES 64
static inline uint32_t mt_size_class(uint64_t size) { return 63u ^ (uint32_t)__builtin_clzll(size | 1); }
/* A thread's own figures beside its per-stack partials: its live-byte
 * changes not yet added to mt_global.current (recorder.c), and what it
 * allocated by size class (estimated, as every figure, when sampling). */
struct mt_thread_figures {
    int64_t pending;
    uint64_t size_count[MT_SIZE_CLASSES], size_bytes[MT_SIZE_CLASSES];
};
/* Requires the shard lock of the block being accounted.  *figures is the
 * thread's own, NULL for a thread without a table of its own: its
 * allocations' sizes then go to mt_tstat_retired_sizes(), under the lock
 * that *locked says to release. */
struct mt_tstat *mt_tstat_get(uint32_t stack, int *locked, struct mt_thread_figures **figures);
void mt_tstat_retired_sizes(uint64_t size, int64_t bytes, int64_t count);
/* The calling thread's own table, once it has one and knows its thread
 * (threadstats.c keeps this up to date; slots is NULL before and after), so
 * that finding a stack it already holds is inline: this is on every
 * allocation and release. */
struct mt_tstat_mine {
    struct mt_tstat *slots;
    uint32_t mask;
    struct mt_thread_figures *figures;
};
extern __thread struct mt_tstat_mine mt_tstat_mine __attribute__((tls_model("initial-exec")));
static inline uint32_t mt_tstat_slot(uint32_t stack, uint32_t mask) { return (stack * 0x9e3779b1u) & mask; }
/* A table's partial for `stack`, or NULL when it holds none (slots may be NULL). */
static inline struct mt_tstat *mt_tstat_probe(struct mt_tstat *slots, uint32_t mask, uint32_t stack) {
    if (MT_LIKELY(slots != NULL)) {
        for (uint32_t j = mt_tstat_slot(stack, mask);; j = (j + 1) & mask) {
            if (slots[j].stack_plus_one == stack + 1) return &slots[j];
            if (!slots[j].stack_plus_one) break;
        }
    }
    return NULL;
}
/* mt_tstat_get, with the common case inline. */
static inline struct mt_tstat *mt_tstat_find(uint32_t stack, int *locked, struct mt_thread_figures **figures) {
    struct mt_tstat *e = mt_tstat_probe(mt_tstat_mine.slots, mt_tstat_mine.mask, stack);
    if (MT_LIKELY(e != NULL)) {
        *locked = 0;
        *figures = mt_tstat_mine.figures;
        return e;
    }
    return mt_tstat_get(stack, locked, figures);
}
void mt_tstat_unlock(void);
/* Temporary allocations: blocks freed by their thread before it allocated anything
 * else (heaptrack's measure of allocations that could have been avoided).
 * They are counted in a table beside each thread's mt_tstat slots, index for
 * index, so the slots stay one cache line; only such a free touches it. */
struct mt_ttemp {
    int64_t count, bytes;
};
/* Counts a temporary release of `bytes` against `s`, a partial that
 * mt_tstat_find or mt_tstat_get just handed out (under the same locks). */
void mt_tstat_temporary(const struct mt_tstat *s, int64_t bytes);
/* The block the calling thread allocated last, while it is live, inverted (~address:
 * not a pointer the leak scan could follow; recorder.c). */
extern __thread uint64_t mt_last_alloc __attribute__((tls_model("initial-exec")));
/* The calling thread's unpublished changes, as mt_tstat_get hands them out. */
int64_t *mt_tstat_pending(void);
/* Live bytes: the published total plus every thread's unpublished changes.
 * Requires every shard lock. */
uint64_t mt_tstats_current(void);
/* The same without stopping the program, each thread's share as last written:
 * for the timeline.  Takes one shard lock; call it holding none. */
uint64_t mt_tstats_current_now(void);
/* With every shard lock held and the owner out (mt_live_lock_all): every
 * thread's unpublished live-byte changes into mt_global.current. */
void mt_tstats_publish(void);
/* Sums every thread's partials into out[stack] and, unless NULL, temps[stack]
 * (zeroed by the caller, `count` of each).  Requires every shard lock. */
void mt_tstats_sum(struct mt_tstat *out, struct mt_ttemp *temps, uint32_t count);
/* Adds every thread's allocations by size class into count[] and bytes[]
 * (MT_SIZE_CLASSES each, zeroed by the caller).  Requires every shard lock. */
void mt_tstats_sizes(uint64_t *count, uint64_t *bytes);

/* ---- in-process checks (checks.c) -------------------------------------------- */
extern __thread int mt_paused __attribute__((tls_model("initial-exec"))); /* memtrace_disable() depth */
/* 0: no region; MT_REGION_ALL: every thread's allocations are watched;
 * MT_REGION_THREAD: only those of the thread whose token is mt_region_owner. */
enum { MT_REGION_ALL = 1, MT_REGION_THREAD = 2 };
extern volatile int mt_region_active;
extern volatile uintptr_t mt_region_owner;
/* A token naming the calling thread among the live ones. */
static inline uintptr_t mt_thread_token(void) { return (uintptr_t)&mt_paused; }
/* The flags a block allocated now by this thread starts with. */
static inline uint32_t mt_region_flags(void) {
    int active = mt_region_active;
    if (MT_LIKELY(!active)) return 0;
    return active == MT_REGION_ALL || mt_region_owner == mt_thread_token() ? MT_SLOT_REGION : 0;
}
int mt_region_begin(int scope);
long mt_region_end(const char *label);
long mt_check_growth(void (*body)(void *), void *context, int warmup, int iterations, const char *label);

/* ---- recorder (recorder.c) ------------------------------------------------ */
enum mt_op { MT_OP_MALLOC, MT_OP_REALLOC };
/* entry: see mt_unwind; flags: MT_SLOT_PADDED when the hooks added 8 bytes,
 * and the kind (mt_kind_flags) */
void mt_record_alloc(void *p, size_t size, enum mt_op op, uint32_t flags, const void *entry);
/* Called from the hook's own frame: a mismatched release's stack starts at its caller. */
void mt_record_free(void *p, enum mt_release how, size_t size); /* size: a sized delete's, else 0 */
void mt_record_free_held(void *p); /* the same, for a block that may not have been the program's */
/* realloc: take the old block's record out before the real realloc runs, so
 * no other thread can be handed the same address while we still list it. */
int mt_record_take(void *p, struct mt_live *out);
/* The stack of the function that called the hook whose frame is `entry`. */
uint32_t mt_record_stack(const void *entry);
void mt_record_put_back(const struct mt_live *e);
void mt_record_release(const struct mt_live *e);
/* Counts a realloc that produced no block (failure, or glibc's realloc(p, 0)). */
void mt_record_realloc_call(void *p);
void mt_set_block_flags(void *p, uint32_t set, uint32_t clear);

struct mt_global {
    uint64_t current;      /* live bytes published by the threads (see recorder.c), atomic */
    uint64_t peak;
    uint64_t peak_time_ns;
    uint64_t peak_epoch;   /* bumped at each new peak */
};
extern struct mt_global mt_global;
void mt_reset_peak(void);
/* A thread publishes its changes to mt_global.current once they reach
 * mt_publish_bytes: MT_PUBLISH_BYTES, or in sampling mode four sampling
 * intervals (each sampled block stands for about one: published at each, the
 * counter's line went from thread to thread twice a sample). */
#define MT_PUBLISH_BYTES (256 << 10)
extern int64_t mt_publish_bytes;
/* Adds a thread's unpublished changes to the total; returns the total. */
static inline uint64_t mt_publish(int64_t *pending) {
    uint64_t total = __atomic_add_fetch(&mt_global.current, (uint64_t)*pending, __ATOMIC_RELAXED);
    *pending = 0;
    return total;
}
/* Published live bytes plus the calling thread's unpublished changes. */
uint64_t mt_current_bytes(void);

/* ---- termination by signal or _exit (signals.c) ------------------------------ */
/* What is ending the program, 0 when nothing: a signal's number, or
 * MT_ENDING_EXIT for _exit()/_Exit() (no signal has that number). */
extern volatile int mt_signal_ending;
#define MT_ENDING_EXIT 0x100
extern volatile int mt_exiting; /* the exit snapshot is under way (control.c's destructor) */
void mt_signals_init(int helper);   /* helper: a helper thread will run to write the snapshot */
/* Installs the snapshot signal's handler where the program left SIG_DFL or
 * SIG_IGN, hidden from the program as the stand-ins are; where it did not,
 * or once it sets a disposition of its own, on a spare real-time signal. */
void mt_signals_install_snapshot(int sig, void (*handler)(int));
/* The signal that handler answers in this process, 0 when none does. */
int mt_signals_snapshot_signal(void);
int mt_signals_configured_signal(void); /* MEMTRACE_SIGNAL's */
void mt_signals_settle(void);        /* when one is: waits for the end */
/* Leaves the tracer on this thread.  A thread that leaves it while a signal
 * is ending the program stops there, as the signal would have stopped it. */
static inline void mt_leave(void) {
    mt_guard--;
    if (MT_UNLIKELY(mt_deferred_count) && mt_guard == 0) mt_free_deferred();
    if (MT_UNLIKELY(mt_signal_ending) && mt_guard == 0) mt_signals_settle();
}
void mt_signals_modules_read(void);  /* from the writer of the termination snapshot */
void mt_signals_die(int sig);        /* ends the process by sig's default action, or _exit's status */
void mt_signals_end(int sig);        /* the helper, its snapshot written: the process ends */
const char *mt_signal_name(int sig); /* "SIGTERM" */
void mt_signals_after_fork_child(int traced);
int mt_signals_before_exec(void);           /* an ignored snapshot signal ignored again: 1 if it was */
void mt_signals_after_failed_exec(int put); /* the tracer's handler back after mt_signals_before_exec's 1 */
int mt_signals_before_spawn(const posix_spawnattr_t *attr); /* the same around posix_spawn: 1 to undo */
void mt_signals_after_spawn(int put);
int mt_signals_own_process(void); /* not a vfork child sharing its parent's memory */
extern __thread int mt_exec_holds; /* the snapshot lock, for an exec under way (control.c) */
void mt_exec_abandon(void);        /* gives it up: the process ends instead */
void mt_signals_hold(void);    /* fork: blocks them until ... */
void mt_signals_release(void); /* ... the parent and the child are ready for them */

/* ---- timeline (timeline.c) ----------------------------------------------- */
#define MT_TIMELINE_POINTS 4096
struct mt_timeline_point {
    uint64_t time_ns, current_bytes, peak_bytes, rss_bytes;
};
void mt_timeline_tick(void);   /* from the helper thread, every MEMTRACE_TIMELINE seconds */
void mt_timeline_now(struct mt_timeline_point *out);
uint32_t mt_timeline_copy(struct mt_timeline_point *out, uint32_t max);
void mt_timeline_lock(void);
void mt_timeline_unlock(void);
void mt_timeline_reset_locked(void);

/* ---- snapshots (snapshot.c) ---------------------------------------------- */
/* Writes a snapshot to `path`, or to the output pattern when NULL.
 * Returns 0 on success, -1 with errno set. */
int mt_snapshot(const char *path, int trigger);
/* The same, classifying every live block by reachability first (MEMTRACE_LEAKS). */
int mt_snapshot_with_leaks(const char *path, int trigger);
void mt_snapshot_lock(void);
void mt_snapshot_unlock(void);
void mt_snapshot_after_fork_child(void);

/* ---- modules and allocator statistics ------------------------------------ */
struct mt_buf { /* growable byte buffer in anonymous memory */
    uint8_t *data;
    size_t len, cap;
    int failed;
};
void mt_buf_put(struct mt_buf *b, const void *p, size_t n);
void mt_buf_u32(struct mt_buf *b, uint32_t v);
void mt_buf_u64(struct mt_buf *b, uint64_t v);
void mt_buf_str(struct mt_buf *b, const char *s, size_t n);
void mt_buf_free(struct mt_buf *b);

/* Encodes the MODULES payload; returns the module count. */
uint32_t mt_modules_collect(struct mt_buf *out);
/* dl_iterate_phdr for the tracer's own walks, which works in a forked child
 * whose copy of the loader's lock another thread held at the fork (modules.c);
 * mt_loader_lock_missing: this is such a child, where dl_iterate_phdr itself
 * (libunwind's) would wait for ever. */
struct dl_phdr_info;
int mt_iterate_phdr(int (*fn)(struct dl_phdr_info *, size_t, void *), void *data);
int mt_loader_lock_missing(void);
void mt_modules_find_loader_lock(void); /* at start-up, one thread */
void mt_modules_after_fork_child(void);
void mt_allocator_init(void); /* at start-up: is the allocator jemalloc? */
/* Encodes the ALLOCATOR payload. */
void mt_allocator_collect(struct mt_buf *out);
/* Whether this thread may ask the allocator for its statistics: not the
 * helper while glibc believes the program has one thread (control.c). */
int mt_allocator_stats_safe(void);
/* Encodes the ALLOCATOR payload as mt_allocator_collect does, from the
 * calling thread when it may, else read by the program's thread at its next
 * record; 0 (nothing encoded) when it did not come in time.  With `modules`,
 * the program's thread encodes the MODULES payload too (its count in
 * `*module_count`): the loader's lock is a mutex glibc takes without atomics
 * while it believes the program has one thread, so the helper must not. */
int mt_allocator_read(struct mt_buf *out, struct mt_buf *modules, uint32_t *module_count);
/* The MODULES payload as last read (at start-up, or by a snapshot that could
 * read it), for a snapshot whose program's thread did not answer in time:
 * appended to `out`; returns its count. */
uint32_t mt_modules_last(struct mt_buf *out);
void mt_modules_keep(const struct mt_buf *modules, uint32_t count);
/* The real allocator's usable size of a live block. */
size_t mt_real_usable_size(void *p);
/* The usable size glibc's chunk header gives, as glibc's malloc_usable_size
 * computes it for a block in use: the chunk's size less its header, 8 bytes
 * (the next chunk's first word is this one's while it is in use), or 16 for
 * a chunk of its own mapping. */
static inline size_t mt_chunk_usable(const void *p) {
    uint64_t head = ((const uint64_t *)p)[-1];
    return (head & ~7ull) - (head & 2 ? 16 : 8);
}
/* Whether the real allocator is glibc's and its answers are the header's
 * (hooks.c checks at start-up), and so mt_block_usable may read it. */
extern int mt_glibc_chunks;
/* The module of the allocator the tracer forwards to (hooks.c), and whether
 * it is glibc's libc. */
extern char mt_allocator_module[4096];
int mt_allocator_is_glibc(void);
/* Forward to the malloc that comes first in the program's symbol lookup, not
 * to the next one after the tracer (hooks.c). */
void mt_hooks_follow_first_malloc(void);
/* The sampling filter is published: free can test it without the mode. */
void mt_hooks_sampling_started(void);
/* mt_real_usable_size for a block the real allocator handed out (never a
 * bootstrap one): inline, as the records kept in blocks need it twice. */
static inline size_t mt_block_usable(void *p) {
    return MT_LIKELY(mt_glibc_chunks) ? mt_chunk_usable(p) : mt_real_usable_size(p);
}

/* ---- leak scan (leaks.c) ---------------------------------------------------- */
#define MT_LEAK_SCAN_FLAG 0x4u /* header flag: BLOCKS flags bits 1-2 hold the kind */
void mt_leaks_prepare(struct mt_buf *roots); /* before any lock: walks the module list */
int mt_leaks_scan(const struct mt_buf *roots); /* requires every shard and stack lock */
/* Where the program's part of the calling thread's stack begins: the scan
 * reads that thread's stack from here up, not the tracer's frames below,
 * whose dead slots still hold addresses of blocks the tracer handled. */
void mt_leaks_set_caller_frame(const void *frame);
void mt_leaks_init(void); /* at start-up: the symbols the scan needs */
uint32_t mt_leak_kind(uint64_t addr);        /* 0 reachable, 1 definite, 2 indirect, 3 possible */
int mt_leaks_scanned(void);
void mt_leaks_release(void);

#endif
