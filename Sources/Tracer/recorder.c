/*
 * The recording core: given an allocation or a release that the hooks saw,
 * unwind the stack, intern it, and update the live-block table, the per-stack
 * aggregates and the process totals.  Called with the re-entrancy guard held.
 *
 * Locking: a block's record lives in one of MT_SHARDS shards chosen by its
 * address, each with its own lock, so two threads allocating serialise only
 * when their blocks hash to the same shard.  Per-stack aggregates are kept per
 * thread (threadstats.c) and updated inside that shard lock; holding every
 * shard lock (as the snapshot writer does) therefore freezes all counters at
 * once.  While one thread does all the recording, it records in sections
 * without a lock and its newest blocks wait outside the live table (tracer.h:
 * mt_shard_enter, young blocks).  The records of the blocks that malloc,
 * calloc and realloc padded live in those blocks (inblock.c).
 * mt_live_lock_all keeps the owner out and moves both into the live table
 * first.
 *
 * Peak bookkeeping: `mt_global.peak_epoch` advances whenever the live total
 * reaches a new high.  A stack remembers the epoch of its last change; when it
 * changes again in a later epoch, its value *before* the change is the value it
 * had at the most recent peak, and is saved as its peak value.  A stack that has
 * not changed since the last peak still holds its peak value in `live_*`.  This
 * gives "bytes per stack at the global peak" for the cost of a compare and two
 * stores per event.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "tracer.h"

__thread volatile int mt_guard __attribute__((tls_model("initial-exec")));
/* Kept inverted: the leak scan reads the threads' static TLS as roots, and the
 * plain address would keep the block it names reachable. */
__thread uint64_t mt_last_alloc __attribute__((tls_model("initial-exec")));
/* And its stack: another thread may have freed that block since and been
 * given its address for one of its own (glibc's per-thread cache hands a
 * freed block out again at once: a request handed to a worker, and its reply).
 * Freeing that one is no temporary allocation of this thread's; only another
 * thread's block from the same stack passes for one. */
static __thread uint32_t last_stack __attribute__((tls_model("initial-exec")));
struct mt_global mt_global;

int mt_shard_enter_slow(struct mt_shard *sh) {
    for (;;) {
        uint64_t me = mt_solo_slot, solo = __atomic_load_n(&mt_solo, __ATOMIC_RELAXED);
        if (solo == me) {
            __atomic_store_n(&mt_solo_busy[me], 1, __ATOMIC_RELAXED);
            __atomic_signal_fence(__ATOMIC_SEQ_CST); /* the fence is the taker's membarrier */
            if (__atomic_load_n(&mt_solo, __ATOMIC_RELAXED) == me) return 0;
            __atomic_store_n(&mt_solo_busy[me], 0, __ATOMIC_RELEASE);
        } else if (mt_solo_owner(solo) != me && mt_solo_owner(solo) != MT_SOLO_OFF) {
            mt_solo_claim(); /* this thread owns now, or nobody ever will */
            continue;
        }
        if (MT_UNLIKELY(solo & MT_SOLO_STATS) && mt_allocator_serve()) continue;
        if (MT_UNLIKELY(mt_young_count)) mt_young_drain();
        mt_lock(&sh->lock);
        uint32_t owner = mt_solo_owner(__atomic_load_n(&mt_solo, __ATOMIC_ACQUIRE));
        if (MT_LIKELY(owner == MT_SOLO_OFF || owner == me)) return 1;
        mt_unlock(&sh->lock);
    }
}

static inline void touch(struct mt_tstat *s) {
    uint64_t epoch = __atomic_load_n(&mt_global.peak_epoch, __ATOMIC_RELAXED);
    if (s->seen_epoch != epoch) {
        s->peak_bytes = s->live_bytes;
        s->peak_count = s->live_count;
        s->seen_epoch = epoch;
    }
}

int64_t mt_publish_bytes = MT_PUBLISH_BYTES;

/* Past MT_PUBLISH_BYTES (a constant for every record to compare with), past
 * mt_publish_bytes too? */
static __attribute__((noinline)) void publish_past(int64_t *pending) {
    if (*pending >= mt_publish_bytes || *pending <= -mt_publish_bytes) mt_publish(pending);
}

static void raise_peak(uint64_t now) {
    if (mt_solo_mine()) {
        /* The owner is the only thread recording, so the only one that moves
         * the peak: no atomic instruction (a python3 run raises it a million
         * times). */
        if (now <= __atomic_load_n(&mt_global.peak, __ATOMIC_RELAXED)) return;
        __atomic_store_n(&mt_global.peak, now, __ATOMIC_RELAXED);
        __atomic_store_n(&mt_global.peak_epoch, mt_global.peak_epoch + 1, __ATOMIC_RELAXED);
        __atomic_store_n(&mt_global.peak_time_ns, mt_coarse_now_ns(), __ATOMIC_RELAXED);
        return;
    }
    uint64_t peak = __atomic_load_n(&mt_global.peak, __ATOMIC_RELAXED);
    while (now > peak) {
        /* Released: whoever reads this peak then sees the total it was published with. */
        if (__atomic_compare_exchange_n(&mt_global.peak, &peak, now, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
            __atomic_add_fetch(&mt_global.peak_epoch, 1, __ATOMIC_RELAXED);
            __atomic_store_n(&mt_global.peak_time_ns, mt_coarse_now_ns(), __ATOMIC_RELAXED);
            break;
        }
    }
}

/* The process's live bytes change by `delta`.  A thread keeps its changes
 * to itself until they add up to mt_publish_bytes either way, so two threads
 * do not fight over one cache line on every allocation; it judges the peak
 * from the published total plus its own changes.  So that the next thread's
 * view includes them, a thread publishes its changes when they make a new
 * peak, and a thread that takes ownership publishes everyone's (the owner
 * alone records, so its view is the total and it keeps its atomics): four
 * threads holding 200 KiB each at once had shown a peak of 200 KiB.  Exact
 * while one thread records, and for threads that build a peak from nothing;
 * otherwise off by at most the other threads' unpublished changes, either
 * way (after the heap shrank, their frees since their last publication).
 * `figures` come from mt_tstat_find, under the same shard lock. */
static inline void global_change(struct mt_thread_figures *figures, int64_t delta) {
    int64_t *pending = figures ? &figures->pending : NULL;
    if (MT_UNLIKELY(!pending)) {
        uint64_t now = __atomic_add_fetch(&mt_global.current, (uint64_t)delta, __ATOMIC_RELAXED);
        if (delta > 0) raise_peak(now);
        return;
    }
    *pending += delta;
    if (delta > 0) {
        /* Signed: a thread that frees what others allocated runs negative.
         * The peak read first: another thread's new peak, published after
         * that read, is in the total read next. */
        int64_t peak = (int64_t)__atomic_load_n(&mt_global.peak, __ATOMIC_ACQUIRE);
        int64_t view = (int64_t)__atomic_load_n(&mt_global.current, __ATOMIC_RELAXED) + *pending;
        if (MT_UNLIKELY(view > peak)) {
            if (!mt_solo_mine()) view = (int64_t)mt_publish(pending);
            raise_peak((uint64_t)view);
        }
    }
    if (MT_UNLIKELY(*pending >= MT_PUBLISH_BYTES || *pending <= -MT_PUBLISH_BYTES)) publish_past(pending);
}

uint64_t mt_current_bytes(void) {
    int64_t *pending = mt_tstat_pending();
    int64_t view = (int64_t)__atomic_load_n(&mt_global.current, __ATOMIC_RELAXED) + (pending ? *pending : 0);
    return view > 0 ? (uint64_t)view : 0;
}

void mt_reset_peak(void) {
    /* Every stack's value at the new "peak" is its current value: starting a
     * new epoch says exactly that. */
    __atomic_store_n(&mt_global.peak, mt_current_bytes(), __ATOMIC_RELAXED);
    __atomic_store_n(&mt_global.peak_time_ns, mt_now_ns(), __ATOMIC_RELAXED);
    __atomic_add_fetch(&mt_global.peak_epoch, 1, __ATOMIC_RELAXED);
}

static MT_INLINE_HOT void account_alloc(struct mt_shard *sh, const struct mt_live *e, enum mt_op op) {
    uint32_t stack = e->stack;
    int64_t size, count;
    mt_sample_weights(e->size, e->ptr, &size, &count);
    int locked;
    struct mt_thread_figures *figures;
    struct mt_tstat *s = mt_tstat_find(stack, &locked, &figures);
    if (MT_LIKELY(s != NULL)) {
        touch(s);
        s->live_bytes += size;
        s->live_count += count;
        s->total_bytes += size;
        s->total_count += count;
    }
    if (MT_LIKELY(figures != NULL)) {
        uint32_t c = mt_size_class(e->size);
        figures->size_count[c] += (uint64_t)count;
        figures->size_bytes[c] += (uint64_t)size;
    } else {
        mt_tstat_retired_sizes(e->size, size, count);
    }
    if (MT_UNLIKELY(locked)) mt_tstat_unlock();
    sh->alloc_calls += (uint64_t)count;
    sh->alloc_bytes += (uint64_t)size;
    if (op == MT_OP_REALLOC) sh->realloc_calls += (uint64_t)count;
    global_change(figures, size);
}

/* `by_free`: released by free, so a temporary allocation if the thread has
 * allocated nothing since (counted only when every allocation is recorded: a
 * sampled thread's last recorded block is not its last allocation). */
static inline __attribute__((always_inline)) void account_free(struct mt_shard *sh, const struct mt_live *e,
                                                               int by_free) {
    int64_t size, count;
    mt_sample_weights(e->size, e->ptr, &size, &count);
    int locked;
    struct mt_thread_figures *figures;
    struct mt_tstat *s = mt_tstat_find(e->stack, &locked, &figures);
    if (MT_LIKELY(s != NULL)) {
        touch(s);
        s->live_bytes -= size;
        s->live_count -= count;
        if (by_free && MT_UNLIKELY(~e->ptr == mt_last_alloc)) {
            mt_last_alloc = 0;
            if (e->stack == last_stack && !mt_sample_rate) mt_tstat_temporary(s, size);
        }
    }
    if (MT_UNLIKELY(locked)) mt_tstat_unlock();
    global_change(figures, -size);
    sh->free_calls += (uint64_t)count;
}

static __attribute__((noinline)) uint32_t walk_and_intern(const void *entry) {
    uint64_t buf[mt_config.frames + MT_UNWIND_SLACK]; /* sized by MEMTRACE_FRAMES: some threads have small stacks */
    int truncated = 0;
    const uint64_t *pcs;
    uint64_t hash;
    int depth = mt_unwind(buf, mt_config.frames, &truncated, &pcs, &hash, entry);
    uint32_t stack = mt_stack_intern(pcs, (uint32_t)depth, truncated, hash);
    mt_unwind_learn(stack);
    return stack;
}

/* Young blocks (tracer.h) wait only in sections without a lock, and not
 * while sampling: the sampling filter learns of a block as it enters the
 * live table. */
static inline int young(int locked) { return !locked && !mt_sample_rate; }

/* Always walks: for the rare stacks that are not an allocation's (a
 * mismatched release), leaving the lookup by place to mt_record_alloc. */
uint32_t mt_record_stack(const void *entry) { return walk_and_intern(entry); }

void mt_record_alloc(void *p, size_t size, enum mt_op op, uint32_t flags, const void *entry) {
    int saved = errno;
    uint32_t stack = mt_unwind_known(entry);
    if (!stack) stack = walk_and_intern(entry);
    struct mt_live e = {
        .ptr = (uint64_t)(uintptr_t)p, .size = size, .stack = stack, .flags = mt_region_flags() | flags};
    struct mt_shard *sh = mt_shard_for(e.ptr);
    mt_last_alloc = ~e.ptr;
    last_stack = stack;
    int locked = mt_shard_enter(sh);
    if (young(locked)) {
        if (mt_blocks_put(sh, &e, 1) != 0) __atomic_add_fetch(&mt_lost_allocations, 1, __ATOMIC_RELAXED);
        account_alloc(sh, &e, op);
    } else if (mt_blocks_put(sh, &e, 0) == 0) {
        account_alloc(sh, &e, op);
    } else {
        __atomic_add_fetch(&mt_lost_allocations, 1, __ATOMIC_RELAXED);
    }
    mt_shard_leave(sh, locked);
    errno = saved;
}

/* Returns whether the block was released otherwise than allocated, or by a
 * sized delete naming another `size` than it holds (`e` then holds it), for
 * the caller to report once it has left the shard. */
static inline __attribute__((always_inline)) int record_free(void *p, int count_untracked, enum mt_release how,
                                                              size_t size, struct mt_live *e) {
    uint64_t ptr = (uint64_t)(uintptr_t)p;
    struct mt_shard *sh = mt_shard_for(ptr);
    int mismatched = 0;
    int locked = mt_shard_enter(sh);
    if (mt_blocks_take(sh, ptr, e, young(locked))) {
        account_free(sh, e, 1);
        mismatched = !mt_release_matches(e->flags, how) || (size != 0 && size != e->size);
    } else if (count_untracked && !mt_sample_rate) {
        sh->untracked_frees++;
    }
    mt_shard_leave(sh, locked);
    return mismatched;
}

MT_INLINE_HOT void mt_record_free(void *p, enum mt_release how, size_t size) {
    struct mt_live e;
    if (MT_UNLIKELY(record_free(p, 1, how, size, &e))) mt_mismatch_found(&e, how, size);
}

/* A release held back (hooks.c): it may have been the tracer's own block,
 * and how the program released it is not known any more. */
void mt_record_free_held(void *p) {
    struct mt_live e;
    record_free(p, 0, MT_RELEASE_ANY, 0, &e);
}

int mt_record_take(void *p, struct mt_live *out) {
    uint64_t ptr = (uint64_t)(uintptr_t)p;
    struct mt_shard *sh = mt_shard_for(ptr);
    int locked = mt_shard_enter(sh);
    int found = mt_blocks_take(sh, ptr, out, young(locked));
    if (!found && !mt_sample_rate) sh->untracked_frees++;
    mt_shard_leave(sh, locked);
    return found;
}

void mt_record_release(const struct mt_live *e) {
    struct mt_shard *sh = mt_shard_for(e->ptr);
    int locked = mt_shard_enter(sh);
    account_free(sh, e, 0); /* a block realloc moved or freed is not a temporary allocation */
    mt_shard_leave(sh, locked);
}

void mt_record_put_back(const struct mt_live *e) {
    struct mt_shard *sh = mt_shard_for(e->ptr);
    int locked = mt_shard_enter(sh);
    if (young(locked)) {
        if (mt_blocks_put(sh, e, 1) != 0) __atomic_add_fetch(&mt_lost_allocations, 1, __ATOMIC_RELAXED);
    } else if (mt_blocks_put(sh, e, 0) != 0) {
        /* Could not re-insert: account it as released so totals stay balanced. */
        account_free(sh, e, 0);
        __atomic_add_fetch(&mt_lost_allocations, 1, __ATOMIC_RELAXED);
    }
    mt_shard_leave(sh, locked);
}

void mt_set_block_flags(void *p, uint32_t set, uint32_t clear) {
    uint64_t ptr = (uint64_t)(uintptr_t)p;
    struct mt_shard *sh = mt_shard_for(ptr);
    int locked = mt_shard_enter(sh);
    mt_blocks_set_flags(sh, ptr, set, clear, young(locked));
    mt_shard_leave(sh, locked);
}

void mt_record_realloc_call(void *p) {
    struct mt_shard *sh = mt_shard_for((uint64_t)(uintptr_t)p);
    int locked = mt_shard_enter(sh);
    sh->realloc_calls++;
    mt_shard_leave(sh, locked);
}
