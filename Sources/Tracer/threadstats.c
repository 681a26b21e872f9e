/*
 * Per-stack statistics, kept per thread.
 *
 * Threads running the same code allocate from the same stacks; shared
 * per-stack counters would bounce one cache line between cores on every
 * allocation (measured: two threads of the churn benchmark ran 1.7x slower
 * with shared atomic counters than without).  So each thread adds into a
 * table of its own, without atomics, and a stack's figures are the sum over
 * the threads' tables.  A free on another thread than the allocation simply
 * drives that thread's partial negative; the sum is right.
 *
 * Every update happens under the live-table shard lock of the block involved,
 * so whoever holds all shard locks (the snapshot writer, a thread merging its
 * table at exit) sees every table at rest.
 *
 * Peak: as in recorder.c, each partial remembers the epoch of its last
 * change; the value of a partial at the latest peak is its saved peak value
 * if it changed since, else its current value.  Sums of partials at the peak
 * are the stack's value at the peak.
 */
#include <pthread.h>
#include <string.h>

#include <unistd.h>

#include "tracer.h"

struct table {
    struct table *next; /* registry link */
    uint32_t count, mask;
    int described;          /* thread's stack known (see mt_thread_describe) */
    struct mt_tstat *slots; /* stack + 1 in `stack` marks a used slot */
    struct mt_ttemp *temps;  /* temporary releases, at the same index as their stack's slot */
    struct mt_thread thread; /* who owns it: for the leak scan's roots */
    struct mt_thread_figures figures; /* live-byte changes not yet published (recorder.c), sizes */
};

static __thread struct table *mine __attribute__((tls_model("initial-exec")));
static __thread int state __attribute__((tls_model("initial-exec"))); /* 0 new, 1 attached, 2 exited */

static struct table *registry;  /* tables of living threads (and of threads lost to fork) */
static struct table retired;    /* merged tables of threads that ended */
static mt_lock_t retired_lock;  /* for threads still allocating after their table was merged */
static pthread_key_t exit_key;

__thread struct mt_tstat_mine mt_tstat_mine __attribute__((tls_model("initial-exec")));

/* Lets mt_tstat_find look in this thread's table without calling here. */
static void publish(const struct table *t) {
    if (t == mine && state == 1 && t->described && t->slots)
        mt_tstat_mine = (struct mt_tstat_mine){.slots = t->slots, .mask = t->mask, .figures = &mine->figures};
}

static int grow(struct table *t) {
    uint32_t cap = t->mask ? (t->mask + 1) * 2 : 64;
    struct mt_tstat *slots = mt_map(cap * sizeof *slots);
    struct mt_ttemp *temps = slots ? mt_map(cap * sizeof *temps) : NULL;
    if (!temps) {
        if (slots) mt_unmap(slots, cap * sizeof *slots);
        return -1;
    }
    if (t->slots) {
        for (uint32_t i = 0; i <= t->mask; i++) {
            if (!t->slots[i].stack_plus_one) continue;
            uint32_t j = mt_tstat_slot(t->slots[i].stack_plus_one - 1, cap - 1);
            while (slots[j].stack_plus_one) j = (j + 1) & (cap - 1);
            slots[j] = t->slots[i];
            temps[j] = t->temps[i];
        }
        mt_unmap(t->slots, (t->mask + 1) * sizeof *slots);
        mt_unmap(t->temps, (t->mask + 1) * sizeof *temps);
    }
    t->slots = slots;
    t->temps = temps;
    t->mask = cap - 1;
    publish(t);
    return 0;
}

/* A stack the table does not hold yet: room is made first. */
__attribute__((noinline)) static struct mt_tstat *add(struct table *t, uint32_t stack) {
    if (!t->slots || (t->count + 1) * 4 > (t->mask + 1) * 3) {
        if (grow(t) != 0) return NULL;
    }
    uint32_t j = mt_tstat_slot(stack, t->mask);
    while (t->slots[j].stack_plus_one) j = (j + 1) & t->mask;
    struct mt_tstat *e = &t->slots[j];
    e->stack_plus_one = stack + 1;
    e->seen_epoch = __atomic_load_n(&mt_global.peak_epoch, __ATOMIC_RELAXED);
    t->count++;
    return e;
}

static inline struct mt_tstat *entry(struct table *t, uint32_t stack) {
    struct mt_tstat *e = mt_tstat_probe(t->slots, t->mask, stack);
    return e ? e : add(t, stack);
}

static void on_thread_exit(void *arg);

void mt_tstats_init(void) { pthread_key_create(&exit_key, on_thread_exit); }

/* The calling thread's partial for `stack`; NULL only when out of memory.
 * Called under a shard lock; *locked tells the caller to release retired_lock. */
struct mt_tstat *mt_tstat_get(uint32_t stack, int *locked, struct mt_thread_figures **figures) {
    *locked = 0;
    if (MT_LIKELY(state == 1)) {
        *figures = &mine->figures;
        if (MT_UNLIKELY(!mine->described) && !mt_in_getattr) mine->described = mt_thread_describe(&mine->thread);
        struct mt_tstat *e = entry(mine, stack);
        publish(mine);
        return e;
    }
    if (state == 0) {
        struct table *t = mt_map(sizeof *t);
        if (t) {
            t->described = mt_thread_describe(&t->thread);
            *figures = &t->figures;
            mine = t;
            state = 1;
            pthread_setspecific(exit_key, t);
            struct table *head = __atomic_load_n(&registry, __ATOMIC_RELAXED);
            do t->next = head;
            while (!__atomic_compare_exchange_n(&registry, &head, t, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
            return entry(t, stack);
        }
        state = 2;
    }
    mt_lock(&retired_lock);
    *locked = 1;
    *figures = NULL;
    return entry(&retired, stack);
}

void mt_tstat_unlock(void) { mt_unlock(&retired_lock); }

void mt_tstat_retired_sizes(uint64_t size, int64_t bytes, int64_t count) {
    uint32_t c = mt_size_class(size);
    retired.figures.size_count[c] += (uint64_t)count;
    retired.figures.size_bytes[c] += (uint64_t)bytes;
}

void mt_tstat_temporary(const struct mt_tstat *s, int64_t bytes) {
    struct table *t = mine && state == 1 && s >= mine->slots && s <= mine->slots + mine->mask ? mine : &retired;
    struct mt_ttemp *x = &t->temps[s - t->slots];
    x->count++;
    x->bytes += bytes;
}

int64_t *mt_tstat_pending(void) { return MT_LIKELY(state == 1) ? &mine->figures.pending : NULL; }

uint64_t mt_tstats_current(void) {
    uint64_t current = __atomic_load_n(&mt_global.current, __ATOMIC_RELAXED);
    for (const struct table *t = __atomic_load_n(&registry, __ATOMIC_ACQUIRE); t; t = t->next)
        current += (uint64_t)t->figures.pending;
    return current;
}

void mt_tstats_publish(void) {
    for (struct table *t = __atomic_load_n(&registry, __ATOMIC_ACQUIRE); t; t = t->next)
        mt_publish(&t->figures.pending);
}

uint64_t mt_tstats_current_now(void) {
    /* A thread's table is unmapped only by its exit, under every shard lock:
     * holding one keeps them all; a new one is only ever put in front. */
    mt_lock(&mt_shards[0].lock);
    int64_t current = (int64_t)__atomic_load_n(&mt_global.current, __ATOMIC_RELAXED);
    for (const struct table *t = __atomic_load_n(&registry, __ATOMIC_ACQUIRE); t; t = t->next)
        current += __atomic_load_n(&t->figures.pending, __ATOMIC_RELAXED);
    mt_unlock(&mt_shards[0].lock);
    return current > 0 ? (uint64_t)current : 0;
}

static inline int64_t at_peak_bytes(const struct mt_tstat *e, uint64_t epoch) {
    return e->seen_epoch == epoch ? e->peak_bytes : e->live_bytes;
}
static inline int64_t at_peak_count(const struct mt_tstat *e, uint64_t epoch) {
    return e->seen_epoch == epoch ? e->peak_count : e->live_count;
}

static void merge(struct table *into, const struct table *from, uint64_t epoch) {
    if (!from->slots) return;
    for (uint32_t i = 0; i <= from->mask; i++) {
        const struct mt_tstat *f = &from->slots[i];
        if (!f->stack_plus_one) continue;
        struct mt_tstat *e = entry(into, f->stack_plus_one - 1);
        if (!e) continue;
        struct mt_ttemp *x = &into->temps[e - into->slots];
        x->count += from->temps[i].count;
        x->bytes += from->temps[i].bytes;
        int64_t peak_bytes = at_peak_bytes(e, epoch) + at_peak_bytes(f, epoch);
        int64_t peak_count = at_peak_count(e, epoch) + at_peak_count(f, epoch);
        e->live_bytes += f->live_bytes;
        e->live_count += f->live_count;
        e->total_bytes += f->total_bytes;
        e->total_count += f->total_count;
        e->peak_bytes = peak_bytes;
        e->peak_count = peak_count;
        e->seen_epoch = epoch;
    }
}

/* The stacks of threads that ended.  glibc keeps a joined thread's stack
 * mapped, in its cache for the next thread, with whatever pointers the
 * thread left there: as roots they kept the blocks it lost reachable, where
 * memcheck calls them lost.  The leak scan leaves these ranges out (a thread
 * that took one over again is scanned from its stack pointer as any other).
 * Changed under every shard lock, which the scan holds. */
static struct ended_thread {
    uint64_t lo, hi, tcb;
    int main_thread;
    int joined; /* its result was collected: nothing of its control block is the program's */
} ended[MT_ENDED_STACKS];
static uint32_t nended, ended_next;

static void stack_ended(const struct mt_thread *thread) {
    if (!thread->stack_lo || thread->stack_lo >= thread->stack_hi) return;
    int main_thread = thread->tid == getpid();
    for (uint32_t i = 0; i < nended; i++)
        if (ended[i].lo == thread->stack_lo && ended[i].hi == thread->stack_hi) {
            ended[i].tcb = thread->tcb;
            ended[i].main_thread = main_thread;
            __atomic_store_n(&ended[i].joined, 0, __ATOMIC_RELAXED);
            return;
        }
    struct ended_thread *slot = nended < MT_ENDED_STACKS ? &ended[nended++] : &ended[ended_next++ % MT_ENDED_STACKS];
    *slot = (struct ended_thread){thread->stack_lo, thread->stack_hi, thread->tcb, main_thread, 0};
}

void mt_thread_joined(uint64_t tcb) {
    for (uint32_t i = 0; i < __atomic_load_n(&nended, __ATOMIC_RELAXED) && i < MT_ENDED_STACKS; i++)
        if (__atomic_load_n(&ended[i].tcb, __ATOMIC_RELAXED) == tcb) __atomic_store_n(&ended[i].joined, 1, __ATOMIC_RELAXED);
}

void mt_ended_stacks_foreach(void (*fn)(uint64_t lo, uint64_t hi, uint64_t tcb, int main_thread)) {
    for (uint32_t i = 0; i < nended; i++)
        fn(ended[i].lo, ended[i].hi, __atomic_load_n(&ended[i].joined, __ATOMIC_RELAXED) ? 0 : ended[i].tcb,
           ended[i].main_thread);
}

/* Thread exit: fold the thread's table into `retired`, with every shard
 * locked so no snapshot or update sees it half-merged. */
static void on_thread_exit(void *arg) {
    struct table *t = arg;
    mt_guard++;
    mt_live_lock_all();
    stack_ended(&t->thread);
    uint64_t epoch = __atomic_load_n(&mt_global.peak_epoch, __ATOMIC_RELAXED);
    merge(&retired, t, epoch);
    for (int c = 0; c < MT_SIZE_CLASSES; c++) {
        retired.figures.size_count[c] += t->figures.size_count[c];
        retired.figures.size_bytes[c] += t->figures.size_bytes[c];
    }
    __atomic_add_fetch(&mt_global.current, (uint64_t)t->figures.pending, __ATOMIC_RELAXED);
    for (struct table **p = &registry; *p; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            break;
        }
    }
    mt_tstat_mine.slots = NULL;
    mine = NULL;
    state = 2;
    mt_live_unlock_all();
    mt_unwind_thread_exit();
    mt_stacks_thread_exit();
    if (t->slots) {
        mt_unmap(t->slots, (t->mask + 1) * sizeof *t->slots);
        mt_unmap(t->temps, (t->mask + 1) * sizeof *t->temps);
    }
    mt_unmap(t, sizeof *t);
    mt_leave();
}

static void add_table(struct mt_tstat *out, struct mt_ttemp *temps, uint32_t count, const struct table *t,
                      uint64_t epoch) {
    if (!t->slots) return;
    for (uint32_t i = 0; i <= t->mask; i++) {
        const struct mt_tstat *f = &t->slots[i];
        if (!f->stack_plus_one || f->stack_plus_one > count) continue;
        struct mt_tstat *o = &out[f->stack_plus_one - 1];
        o->live_bytes += f->live_bytes;
        o->live_count += f->live_count;
        o->total_bytes += f->total_bytes;
        o->total_count += f->total_count;
        o->peak_bytes += at_peak_bytes(f, epoch);
        o->peak_count += at_peak_count(f, epoch);
        if (temps) {
            temps[f->stack_plus_one - 1].count += t->temps[i].count;
            temps[f->stack_plus_one - 1].bytes += t->temps[i].bytes;
        }
    }
}

void mt_tstats_sum(struct mt_tstat *out, struct mt_ttemp *temps, uint32_t count) {
    uint64_t epoch = __atomic_load_n(&mt_global.peak_epoch, __ATOMIC_RELAXED);
    add_table(out, temps, count, &retired, epoch);
    for (const struct table *t = __atomic_load_n(&registry, __ATOMIC_ACQUIRE); t; t = t->next)
        add_table(out, temps, count, t, epoch);
}

static void add_sizes(uint64_t *count, uint64_t *bytes, const struct mt_thread_figures *f) {
    for (int c = 0; c < MT_SIZE_CLASSES; c++) {
        count[c] += f->size_count[c];
        bytes[c] += f->size_bytes[c];
    }
}

void mt_tstats_sizes(uint64_t *count, uint64_t *bytes) {
    add_sizes(count, bytes, &retired.figures);
    for (const struct table *t = __atomic_load_n(&registry, __ATOMIC_ACQUIRE); t; t = t->next)
        add_sizes(count, bytes, &t->figures);
}

/* ---- threads, for the leak scan ---------------------------------------------- */
struct mt_thread *mt_thread_self(void) { return mine ? &mine->thread : NULL; }

void mt_threads_foreach(void (*fn)(struct mt_thread *, void *), void *context) {
    for (struct table *t = __atomic_load_n(&registry, __ATOMIC_ACQUIRE); t; t = t->next) fn(&t->thread, context);
}
