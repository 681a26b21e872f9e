/*
 * The allocator entry points.  This file only replaces libc (and libstdc++)
 * symbols: it finds the real allocator, forwards to it, and tells the recorder
 * what happened.  Everything it defines is exported; nothing else in the
 * library defines a libc symbol.
 *
 * The real allocator is whatever comes next in symbol lookup order
 * (dlsym(RTLD_NEXT)): glibc's malloc, or jemalloc when the user preloads
 * `libtrace.so libjemalloc.so.2`.  Functions the next allocator does not
 * provide (jemalloc has no pvalloc or reallocarray) are built from the ones it
 * does, so that every block comes from, and goes back to, one allocator.
 */
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tracer.h"

/* ---- the real allocator ------------------------------------------------- */
static void *(*real_malloc)(size_t);
static void (*real_free)(void *);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);
static size_t (*real_malloc_usable_size)(void *);
static int (*real_dlclose)(void *);
static int (*real_getattr_np)(pthread_t, pthread_attr_t *);
static int (*real_join)(pthread_t, void **);
static int (*real_tryjoin)(pthread_t, void **);
static int (*real_timedjoin)(pthread_t, void **, const struct timespec *);
static int (*real_clockjoin)(pthread_t, void **, clockid_t, const struct timespec *);

/* ---- bootstrap ------------------------------------------------------------
 * dlsym() itself may call calloc (for its error state) before we know where
 * the real calloc is.  Those few early requests are served from this static
 * buffer; free() recognises its addresses and ignores them.  So is anything
 * the helper thread (mt_never_leaves) asks for, which is nothing as written:
 * it must never enter the real allocator, whose lock-free single-thread
 * paths the program's thread may be running (control.c).  Each block keeps
 * its size in the 16 bytes before it so realloc can copy it out. */
static char boot_buf[256 * 1024] __attribute__((aligned(64)));
static size_t boot_used;

static int is_boot(const void *p) {
    return (const char *)p >= boot_buf && (const char *)p < boot_buf + sizeof boot_buf;
}

static void *boot_alloc(size_t size, size_t align) {
    if (align < 16) align = 16;
    for (;;) {
        size_t used = __atomic_load_n(&boot_used, __ATOMIC_RELAXED);
        size_t start = (used + 16 + align - 1) & ~(align - 1);
        if (start + size > sizeof boot_buf || start + size < start) return NULL;
        if (__atomic_compare_exchange_n(&boot_used, &used, start + size, 0, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED)) {
            *(size_t *)(boot_buf + start - 16) = size;
            mt_filter_pin(boot_buf + start, size); /* when sampling has started: see sampler.c */
            return boot_buf + start; /* the buffer is never reused, so it is still zero */
        }
    }
}

static size_t boot_size(const void *p) { return *(const size_t *)((const char *)p - 16); }

uint64_t mt_boot_used(const void **start) {
    *start = boot_buf;
    return __atomic_load_n(&boot_used, __ATOMIC_RELAXED);
}

int mt_glibc_chunks;
char mt_allocator_module[4096];

struct holder {
    uintptr_t address, base;
    const char *name;
};

/* The loaded object whose segments hold `address` (dladdr would also look
 * for the nearest symbol, a walk of libc's whole symbol table: a quarter of
 * the tracer's start-up). */
static int find_holder(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct holder *h = data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && h->address >= lo && h->address - lo < ph->p_memsz) {
            h->base = info->dlpi_addr;
            h->name = info->dlpi_name;
            return 1;
        }
    }
    return 0;
}

static int holder_of(void *address, struct holder *h) {
    *h = (struct holder){.address = (uintptr_t)address};
    return mt_iterate_phdr(find_holder, h) == 1 && h->name;
}

/* The module whose malloc the tracer forwards to, for the snapshots: glibc's
 * libc.so.6 or another allocator (jemalloc, tcmalloc, mimalloc). */
static int name_allocator(struct holder *a) {
    mt_allocator_module[0] = 0;
    if (!real_malloc || !holder_of((void *)real_malloc, a)) return 0;
    snprintf(mt_allocator_module, sizeof mt_allocator_module, "%s", a->name[0] ? a->name : mt_config.exe); /* "": the executable's own */
    return 1;
}

int mt_allocator_is_glibc(void) { return strstr(mt_allocator_module, "/libc.so") != NULL; }

/* Reading the header beats calling malloc_usable_size (twice for every
 * block whose record it holds: inblock.c) only if the real allocator is
 * glibc's and computes it that way; both are checked once, on blocks of
 * every kind, including one of its own mapping. */
static void check_chunks(void) {
    struct holder a, b;
    if (!name_allocator(&a) || !real_free || !real_malloc_usable_size || !mt_allocator_is_glibc() ||
        !holder_of((void *)real_malloc_usable_size, &b) || a.base != b.base)
        return;
    /* Small enough not to move the heap's top, and one above glibc's largest
     * mmap threshold, so that releasing it does not raise the threshold.  Not
     * that one when glibc fills what it hands out (MALLOC_PERTURB_, or the
     * tunable): every traced process wrote 64 MiB, 35 ms and its peak RSS. */
    static const size_t sizes[] = {0, 1, 8, 24, 25, 40, 100, 1000, 4096, 64 << 20};
    const char *perturb = getenv("MALLOC_PERTURB_"), *tunables = getenv("GLIBC_TUNABLES");
    int filled = (perturb && *perturb && strcmp(perturb, "0") != 0) || (tunables && strstr(tunables, "perturb"));
    int same = 1;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0] - (filled ? 1 : 0); i++) {
        void *p = real_malloc(sizes[i]);
        if (!p) continue;
        same &= mt_chunk_usable(p) == real_malloc_usable_size(p);
        real_free(p);
    }
    mt_glibc_chunks = same;
}

/* ---- start-up ------------------------------------------------------------- */
enum { ST_NEW, ST_STARTING, ST_FORWARDING, ST_READY };
static int state = ST_NEW;

static void *next_symbol(const char *name) { return dlsym(RTLD_NEXT, name); }

static void resolve(void) {
    real_malloc = next_symbol("malloc");
    real_free = next_symbol("free");
    real_calloc = next_symbol("calloc");
    real_realloc = next_symbol("realloc");
    real_posix_memalign = next_symbol("posix_memalign");
    real_aligned_alloc = next_symbol("aligned_alloc");
    real_memalign = next_symbol("memalign");
    real_malloc_usable_size = next_symbol("malloc_usable_size");
    real_dlclose = next_symbol("dlclose");
    real_getattr_np = next_symbol("pthread_getattr_np");
    real_join = next_symbol("pthread_join");
    real_tryjoin = next_symbol("pthread_tryjoin_np");
    real_timedjoin = next_symbol("pthread_timedjoin_np");
    real_clockjoin = next_symbol("pthread_clockjoin_np");
}

/* A malloc that comes before the tracer's in symbol lookup (an executable's
 * own, as rustc's jemalloc; an allocator preloaded before libtrace.so): the
 * loader binds the program's calls to it, and only the entry points that
 * allocator lacks reach the tracer (mimalloc has no nothrow operator delete,
 * tcmalloc no reallocarray).  Those must hand their blocks to that allocator
 * too, not to the next one after the tracer: glibc's free aborted on a block
 * of mimalloc's.  From the constructor, once such a malloc is found. */
static void *first_definition(const char *name, void *fallback) {
    void *p = dlsym(RTLD_DEFAULT, name);
    return p && !mt_is_self_address((uint64_t)(uintptr_t)p) ? p : fallback;
}

void mt_hooks_follow_first_malloc(void) {
    real_malloc = first_definition("malloc", real_malloc);
    real_free = first_definition("free", real_free);
    real_calloc = first_definition("calloc", real_calloc);
    real_realloc = first_definition("realloc", real_realloc);
    real_posix_memalign = first_definition("posix_memalign", real_posix_memalign);
    real_aligned_alloc = first_definition("aligned_alloc", real_aligned_alloc);
    real_memalign = first_definition("memalign", real_memalign);
    real_malloc_usable_size = first_definition("malloc_usable_size", real_malloc_usable_size);
    struct holder a;
    name_allocator(&a);
    if (!mt_allocator_is_glibc()) mt_glibc_chunks = 0;
}

/* An allocation can come before libc has initialised itself: from the
 * executable's .preinit_array, where every sanitizer runtime starts (and
 * calls dlsym, which allocates).  libc has not set `environ` yet, so the
 * settings would read as absent (MEMTRACE_OUTPUT, MEMTRACE_DISABLE...), and
 * the functions the start-up calls may not work yet: under ThreadSanitizer,
 * whose interceptors come first, dl_iterate_phdr jumped to address 0.  Until
 * then the tracer only finds the real allocator and forwards to it (the
 * blocks are not recorded, as those of the start-up itself); the rest waits
 * for the first call after libc's initialiser, or for the constructor. */
extern char **environ;
static int constructing; /* the constructor is starting the tracer: libc is up */

static int too_early(void) { return !environ && !constructing; }

static void finish_start(void) {
    check_chunks();
    mt_control_init();
}

/* Called on the slow path of every hook until start-up is complete.  The
 * thread that starts the tracer holds the guard, so the allocations start-up
 * makes (dlsym, libunwind, getenv-free parsing) go straight through. */
static void start(void) {
    int expected = ST_NEW;
    if (__atomic_compare_exchange_n(&state, &expected, ST_STARTING, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        int saved = errno;
        mt_guard++;
        resolve();
        int early = too_early();
        if (!early) finish_start();
        mt_leave();
        __atomic_store_n(&state, early ? ST_FORWARDING : ST_READY, __ATOMIC_RELEASE);
        errno = saved;
        return;
    }
    if (expected == ST_FORWARDING) {
        if (too_early() || mt_guard) return; /* forwarding; or the finishing thread re-entering */
        if (__atomic_compare_exchange_n(&state, &expected, ST_STARTING, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            int saved = errno;
            mt_guard++;
            finish_start();
            mt_leave();
            __atomic_store_n(&state, ST_READY, __ATOMIC_RELEASE);
            errno = saved;
            return;
        }
    }
    /* Another thread is starting the tracer; this one waits unless it is the
     * starter itself re-entering through dlsym (then the guard is set and the
     * caller falls back to the bootstrap buffer).  A start that was too early
     * ends forwarding, which the caller then does. */
    if (mt_guard) return;
    while (__atomic_load_n(&state, __ATOMIC_ACQUIRE) == ST_STARTING) sched_yield();
}

static inline void ensure_started(void) {
    if (MT_UNLIKELY(__atomic_load_n(&state, __ATOMIC_ACQUIRE) != ST_READY)) start();
}

/* The constructor starts the tracer even in a program that never allocates,
 * so the signal handler and the periodic thread exist from the beginning. */
uint64_t mt_initial_sp;

__attribute__((constructor(101))) static void mt_constructor(void) {
    mt_initial_sp = (uint64_t)(uintptr_t)__builtin_frame_address(0);
    constructing = 1;
    ensure_started();
    mt_guard++;
    mt_control_start();
    mt_leave();
}

size_t mt_real_usable_size(void *p) {
    if (is_boot(p)) return boot_size(p);
    if (mt_glibc_chunks) return mt_chunk_usable(p); /* a snapshot asks for every live block's */
    return real_malloc_usable_size ? real_malloc_usable_size(p) : 0;
}

/* A hook records only when the tracer is not already running on this thread;
 * an allocation also not while the program paused recording (memtrace_disable).
 * Releases are always recorded, so a block freed while paused is not left behind. */
#define RECORDING() (mt_guard == 0 && mt_enabled)
/* Whether to record an allocation of `size` bytes (once mt_sample_skip has
 * not let it through), for a caller that knows RECORDING() holds. */
static inline int wanted_unless_paused(size_t size) {
    if (!mt_paused) return mt_sample(size);
    if (MT_UNLIKELY(mt_sample_rate)) mt_sample_forget(size);
    mt_last_alloc = 0; /* an allocation all the same: the last recorded one is no longer the last */
    return 0;
}
static inline int wanted(size_t size) {
    if (RECORDING()) return wanted_unless_paused(size);
    if (MT_UNLIKELY(mt_sample_rate)) mt_sample_forget(size);
    return 0;
}
/* The walk starts at whoever called the function this expands in. */
#define RECORD_ALLOC(p, size, op) mt_record_alloc(p, size, op, 0, __builtin_frame_address(0))
/* The same for a block of operator new or new[] (`kind`: enum mt_kind). */
#define RECORD_KIND(p, size, op, kind) mt_record_alloc(p, size, op, mt_kind_flags(kind), __builtin_frame_address(0))
/* The same for a block the hook asked `pad` bytes more for (inblock.c). */
#define RECORD_PADDED(p, size, op, pad, kind) \
    mt_record_alloc(p, size, op, ((pad) ? MT_SLOT_PADDED : 0) | mt_kind_flags(kind), __builtin_frame_address(0))

/* ---- the C allocator family ------------------------------------------------
 * Each entry point that may record has a fast path that only forwards (no
 * frame of its own: a tail call to the real allocator) and a recording path
 * in a function of its own, reached by a tail call, whose frame therefore
 * sits right under the program's: RECORD_ALLOC there starts the walk at the
 * program's call.  (Were the call not a tail call, the walk would start in
 * the entry point and skip it as one of the tracer's own frames.) */
/* `kind`: malloc's blocks, or operator new's, whose path has functions of
 * its own (new_checked below), so that malloc's need not carry the kind. */
static inline __attribute__((always_inline)) void *alloc_recorded(size_t size, enum mt_kind kind) {
    mt_guard++;
    size_t pad = mt_inblock_pad(size);
    void *p = real_malloc(size + pad);
    if (p) RECORD_PADDED(p, size, MT_OP_MALLOC, pad, kind);
    mt_leave();
    return p;
}

__attribute__((noinline)) static void *malloc_recorded(size_t size) { return alloc_recorded(size, MT_KIND_MALLOC); }

/* Whether an allocation goes to the recording path; if not, `*p` is the block. */
static inline __attribute__((always_inline)) int alloc_wanted(size_t size, void **p) {
    ensure_started();
    if (MT_UNLIKELY(!real_malloc || mt_never_leaves)) *p = boot_alloc(size, 16);
    else if (!wanted(size)) *p = real_malloc(size);
    else return 1;
    return 0;
}

__attribute__((noinline)) static void *malloc_checked(size_t size) {
    void *p;
    return alloc_wanted(size, &p) ? malloc_recorded(size) : p;
}

MT_EXPORT void *malloc(size_t size) {
    if (MT_LIKELY(mt_sample_skip(size))) return real_malloc(size);
    return malloc_checked(size);
}

/* Inline: unlike an allocation, a release walks no stack, so it needs no
 * frame of its own under the program's. */
static inline __attribute__((always_inline)) void free_recorded(void *p, enum mt_release how, size_t size) {
    int saved = errno; /* the recorder must not change it either */
    mt_guard++;
    mt_record_free(p, how, size); /* before the real free: afterwards the address may be reused */
    real_free(p);
    mt_leave();
    errno = saved;
}

/* A release that comes while this thread is inside the tracer, from a signal
 * handler that interrupted it, cannot be recorded there: the interrupted code
 * may hold the lock the record needs.  Let through unrecorded, it left the
 * block live in the snapshots for good (and `memtrace check` called it lost);
 * so the block is held back, still allocated, and released and recorded when
 * the thread leaves the tracer.  A handful fit; more go through unrecorded. */
#define DEFERRED_FREES 16
/* Complemented, as mt_last_alloc: the leak scan reads TLS for pointers, and a
 * stale one would keep whatever block took the address later reachable. */
static __thread uintptr_t deferred[DEFERRED_FREES] __attribute__((tls_model("initial-exec")));
__thread int mt_deferred_count __attribute__((tls_model("initial-exec")));
__thread int mt_never_leaves __attribute__((tls_model("initial-exec")));

static int defer_free(void *p) {
    int n = mt_deferred_count;
    if (n >= DEFERRED_FREES || mt_never_leaves) return 0;
    deferred[n] = ~(uintptr_t)p;
    __asm__ volatile("" ::: "memory"); /* the slot before the count: a nested handler sees both or neither */
    mt_deferred_count = n + 1;
    return 1;
}

void mt_free_deferred(void) {
    int saved = errno;
    while (mt_deferred_count) {
        /* Taken with signals blocked: a handler could add one meanwhile. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        uintptr_t held[DEFERRED_FREES];
        int n = mt_deferred_count;
        memcpy(held, deferred, (size_t)n * sizeof *held);
        mt_deferred_count = 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        mt_guard++;
        for (int i = 0; i < n; i++) {
            void *p = (void *)~held[i];
            mt_record_free_held(p);
            real_free(p);
        }
        mt_guard--;
    }
    errno = saved;
}

/* free, and operator delete and delete[] (`how`; `size`: what a sized delete
 * says the block holds, 0 from the others): each has a function of its own
 * below, so that free's need not carry how it releases. */
static inline __attribute__((always_inline)) void release_checked(void *p, enum mt_release how, size_t size) {
    if (!p || is_boot(p)) return;
    ensure_started();
    if (MT_UNLIKELY(!real_free)) return;
    /* real_free keeps errno itself, as free must (POSIX 2024, glibc 2.33+) */
    if (!RECORDING() || !mt_maybe_recorded(p)) {
        if (MT_UNLIKELY(mt_guard > 0) && mt_enabled && mt_maybe_recorded(p) && defer_free(p)) return;
        if (MT_UNLIKELY(mt_inblock_padded(p)) && mt_enabled) return; /* kept: a bit outliving its block is worse */
        real_free(p);
        return;
    }
    free_recorded(p, how, size);
}

__attribute__((noinline)) static void free_checked(void *p) { release_checked(p, MT_RELEASE_FREE, 0); }
__attribute__((noinline)) static void delete_checked(void *p, enum mt_release how, size_t size) {
    release_checked(p, how, size);
}

/* free and operator delete take one of two paths: before sampling starts,
 * and in exact mode, every block goes to free_checked (delete_checked); once
 * the sampling filter is published, the sampled path forwards the blocks the
 * filter has never seen (never a bootstrap block: their cells are pinned).
 * They jump to their path through a pointer, so that neither path pays for a
 * test of the mode: in sampling mode, a free of a block never recorded
 * (nearly all of them) is a dozen instructions. */
static void free_sampled(void *p) {
    if (mt_filter_surely_unsampled(p)) real_free(p); /* NULL included */
    else free_checked(p);
}
static void delete_sampled(void *p, enum mt_release how, size_t size) {
    if (mt_filter_surely_unsampled(p)) real_free(p);
    else delete_checked(p, how, size);
}
static void (*free_path)(void *) = free_checked;
static void (*delete_path)(void *, enum mt_release, size_t) = delete_checked;

void mt_hooks_sampling_started(void) {
    __atomic_store_n(&free_path, free_sampled, __ATOMIC_RELEASE);
    __atomic_store_n(&delete_path, delete_sampled, __ATOMIC_RELEASE);
}

MT_EXPORT void free(void *p) { __atomic_load_n(&free_path, __ATOMIC_ACQUIRE)(p); }
static inline void release(void *p, enum mt_release how, size_t size) {
    __atomic_load_n(&delete_path, __ATOMIC_ACQUIRE)(p, how, size);
}

__attribute__((noinline)) static void *calloc_recorded(size_t n, size_t size) {
    mt_guard++;
    size_t total, pad = __builtin_mul_overflow(n, size, &total) ? 0 : mt_inblock_pad(total);
    void *p = pad ? real_calloc(1, total + pad) : real_calloc(n, size);
    if (p) RECORD_PADDED(p, n * size, MT_OP_MALLOC, pad, MT_KIND_MALLOC);
    mt_leave();
    return p;
}

__attribute__((noinline)) static void *calloc_checked(size_t n, size_t size) {
    ensure_started();
    if (MT_UNLIKELY(!real_calloc || mt_never_leaves)) {
        size_t total;
        if (__builtin_mul_overflow(n, size, &total)) return NULL;
        return boot_alloc(total, 16);
    }
    if (!wanted(n * size)) return real_calloc(n, size);
    return calloc_recorded(n, size);
}

MT_EXPORT void *calloc(size_t n, size_t size) {
    size_t total;
    if (MT_LIKELY(!__builtin_mul_overflow(n, size, &total) && mt_sample_skip(total)))
        return real_calloc(n, size); /* a countdown above 0: the tracer is started (see mt_sample_skip) */
    return calloc_checked(n, size);
}

/* A padded block that cannot be recorded released (a signal handler's
 * realloc while its thread is inside the tracer) is kept, as free keeps it. */
static void *realloc_keeping(void *old, size_t size) {
    if (!size) return NULL;
    void *p = real_malloc(size);
    if (p) {
        size_t n = real_malloc_usable_size(old) - 8;
        memcpy(p, old, n < size ? n : size);
    }
    return p;
}

static void *realloc_from_boot(void *old, size_t size) {
    void *p = malloc(size);
    if (p) {
        size_t n = boot_size(old);
        memcpy(p, old, n < size ? n : size);
    }
    return p;
}

__attribute__((noinline)) static void *realloc_recorded(void *old, size_t size, int record_new, int maybe_old) {
    mt_guard++;
    struct mt_live taken;
    int had = maybe_old ? mt_record_take(old, &taken) : 0;
    if (had && MT_UNLIKELY(!mt_release_matches(taken.flags, MT_RELEASE_REALLOC)))
        mt_mismatch_found(&taken, MT_RELEASE_REALLOC, 0);
    size_t pad = record_new && size ? mt_inblock_pad(size) : 0; /* glibc: realloc(p, 0) frees p */
    void *p = real_realloc(old, size + pad);
    if (p) {
        if (had) mt_record_release(&taken);
        if (record_new) RECORD_PADDED(p, size, MT_OP_REALLOC, pad, MT_KIND_MALLOC);
    } else {
        if (had && size == 0) mt_record_release(&taken); /* glibc: realloc(p, 0) frees p */
        else if (had) mt_record_put_back(&taken);        /* failed: the old block lives on */
        mt_record_realloc_call(old);
    }
    mt_leave();
    return p;
}

__attribute__((noinline)) static void *realloc_checked(void *old, size_t size) {
    if (old && is_boot(old)) return realloc_from_boot(old, size);
    ensure_started();
    if (MT_UNLIKELY(!real_realloc || (mt_never_leaves && !old))) return boot_alloc(size, 16);
    if (!RECORDING()) {
        if (MT_UNLIKELY(mt_inblock_padded(old)) && mt_enabled) return realloc_keeping(old, size);
        return real_realloc(old, size);
    }
    int record_new = wanted_unless_paused(size);
    int maybe_old = old && mt_maybe_recorded(old);
    if (!record_new && !maybe_old) return real_realloc(old, size);
    return realloc_recorded(old, size, record_new, maybe_old);
}

MT_EXPORT void *realloc(void *old, size_t size) {
    if (MT_LIKELY((!old || mt_surely_unrecorded(old)) && mt_sample_skip(size))) /* bootstrap blocks: see free */
        return real_realloc(old, size);
    return realloc_checked(old, size);
}

MT_EXPORT void *reallocarray(void *old, size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(old, total);
}

/* One aligned allocation path for memalign, aligned_alloc, valloc and
 * pvalloc.  posix_memalign is the only aligned entry point every allocator
 * has; it rejects alignments that are not powers of two times sizeof(void *),
 * which memalign historically rounded up, so round here the same way. */
static void *aligned(size_t align, size_t size, enum mt_kind kind) {
    ensure_started();
    if (align < sizeof(void *)) align = sizeof(void *);
    if (align & (align - 1)) {
        size_t a = sizeof(void *);
        while (a < align) a <<= 1;
        align = a;
    }
    if (MT_UNLIKELY(!real_posix_memalign || mt_never_leaves)) return boot_alloc(size, align);
    void *p = NULL;
    if (!wanted(size)) {
        int rc = real_posix_memalign(&p, align, size);
        if (rc) errno = rc;
        return rc ? NULL : p;
    }
    mt_guard++;
    int rc = real_posix_memalign(&p, align, size);
    if (rc == 0) RECORD_KIND(p, size, MT_OP_MALLOC, kind);
    mt_leave();
    if (rc) {
        errno = rc;
        return NULL;
    }
    return p;
}

MT_EXPORT int posix_memalign(void **out, size_t align, size_t size) {
    ensure_started();
    if (MT_UNLIKELY(!real_posix_memalign || mt_never_leaves)) {
        void *p = boot_alloc(size, align);
        if (!p) return ENOMEM;
        *out = p;
        return 0;
    }
    if (!wanted(size)) return real_posix_memalign(out, align, size);
    mt_guard++;
    int rc = real_posix_memalign(out, align, size);
    if (rc == 0) RECORD_ALLOC(*out, size, MT_OP_MALLOC);
    mt_leave();
    return rc;
}

MT_EXPORT void *aligned_alloc(size_t align, size_t size) {
    ensure_started();
    if (real_aligned_alloc && !mt_never_leaves) {
        if (!wanted(size)) return real_aligned_alloc(align, size);
        mt_guard++;
        void *p = real_aligned_alloc(align, size);
        if (p) RECORD_ALLOC(p, size, MT_OP_MALLOC);
        mt_leave();
        return p;
    }
    return aligned(align, size, MT_KIND_MALLOC);
}

MT_EXPORT void *memalign(size_t align, size_t size) {
    ensure_started();
    if (real_memalign && !mt_never_leaves) {
        if (!wanted(size)) return real_memalign(align, size);
        mt_guard++;
        void *p = real_memalign(align, size);
        if (p) RECORD_ALLOC(p, size, MT_OP_MALLOC);
        mt_leave();
        return p;
    }
    return aligned(align, size, MT_KIND_MALLOC);
}

MT_EXPORT void *valloc(size_t size) { return aligned(mt_page_size(), size, MT_KIND_MALLOC); }

MT_EXPORT void *pvalloc(size_t size) {
    size_t page = mt_page_size();
    size_t rounded = (size + page - 1) & ~(page - 1);
    if (rounded < size) {
        errno = ENOMEM;
        return NULL;
    }
    return aligned(page, rounded ? rounded : page, MT_KIND_MALLOC);
}

MT_EXPORT size_t malloc_usable_size(void *p) {
    if (!p) return 0;
    if (is_boot(p)) return boot_size(p);
    ensure_started();
    if (!real_malloc_usable_size) return 0;
    size_t n = real_malloc_usable_size(p);
    return n >= 8 && mt_inblock_padded(p) ? n - 8 : n; /* the tracer's 8 bytes are not the program's */
}

/* ---- C++ operator new and delete ------------------------------------------
 * libstdc++'s operators call malloc and would be seen anyway, but jemalloc
 * exports its own operators that bypass malloc: with
 * LD_PRELOAD="libtrace.so libjemalloc.so.2" every `new` would be invisible.
 * So the operators are interposed too, and allocate through the hooks above.
 * Only when that fails do they call the next definition (jemalloc's or
 * libstdc++'s), which runs the new_handler loop and throws std::bad_alloc;
 * we hold no state across that call, so an exception may pass through our
 * frame (x86-64 code always carries unwind tables) and no C++ runtime is
 * linked into the tracer.  The next definition is looked up on first use:
 * libstdc++ may arrive by dlopen long after start-up. */
static void *lookup(void **slot, const char *name) {
    void *f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (!f) {
        mt_guard++;
        f = dlsym(RTLD_NEXT, name);
        mt_leave();
        __atomic_store_n(slot, f, __ATOMIC_RELEASE);
    }
    return f;
}

/* A block the next operator new returned after a new_handler made room: it
 * came through our malloc when that operator is libstdc++'s, but not when it
 * is jemalloc's. */
static void *adopt(void *p, size_t size, enum mt_kind kind) {
    if (p && RECORDING()) {
        mt_guard++;
        struct mt_live e;
        if (mt_maybe_recorded(p) && mt_record_take(p, &e)) mt_record_put_back(&e);
        else if (wanted_unless_paused(size)) RECORD_KIND(p, size, MT_OP_MALLOC, kind);
        mt_leave();
    }
    return p;
}

/* operator new's own way into malloc's path, so that the block carries its
 * kind (a call, not a tail call: new checks the result, so the stack of the
 * allocation starts in operator new, as when it called malloc). */
__attribute__((noinline)) static void *new_recorded(size_t size, enum mt_kind kind) { return alloc_recorded(size, kind); }

__attribute__((noinline)) static void *new_checked(size_t size, enum mt_kind kind) {
    void *p;
    return alloc_wanted(size, &p) ? new_recorded(size, kind) : p;
}

static inline __attribute__((always_inline)) void *new_alloc(size_t size, enum mt_kind kind) {
    if (MT_LIKELY(mt_sample_skip(size))) return real_malloc(size);
    return new_checked(size, kind);
}

#define DEFINE_NEW(sym, params, first_try, retry_args, retry_type, kind)                \
    static void *real_##sym;                                                             \
    MT_EXPORT void *sym params {                                                         \
        void *p = first_try;                                                             \
        if (MT_LIKELY(p != NULL)) return p;                                              \
        retry_type next = (retry_type)lookup(&real_##sym, #sym);                         \
        return next ? adopt(next retry_args, size, kind) : NULL;                         \
    }

typedef void *(*new_fn)(size_t);
typedef void *(*new_nothrow_fn)(size_t, const void *);
typedef void *(*new_aligned_fn)(size_t, size_t);
typedef void *(*new_aligned_nothrow_fn)(size_t, size_t, const void *);
#define NEW MT_KIND_NEW
#define NEW_ARRAY MT_KIND_NEW_ARRAY

/* operator new(size_t), new[](size_t), and their nothrow and aligned forms */
DEFINE_NEW(_Znwm, (size_t size), new_alloc(size ? size : 1, NEW), (size), new_fn, NEW)
DEFINE_NEW(_Znam, (size_t size), new_alloc(size ? size : 1, NEW_ARRAY), (size), new_fn, NEW_ARRAY)
DEFINE_NEW(_ZnwmRKSt9nothrow_t, (size_t size, const void *nt), new_alloc(size ? size : 1, NEW), (size, nt),
           new_nothrow_fn, NEW)
DEFINE_NEW(_ZnamRKSt9nothrow_t, (size_t size, const void *nt), new_alloc(size ? size : 1, NEW_ARRAY), (size, nt),
           new_nothrow_fn, NEW_ARRAY)
DEFINE_NEW(_ZnwmSt11align_val_t, (size_t size, size_t al), aligned(al, size ? size : 1, NEW), (size, al),
           new_aligned_fn, NEW)
DEFINE_NEW(_ZnamSt11align_val_t, (size_t size, size_t al), aligned(al, size ? size : 1, NEW_ARRAY), (size, al),
           new_aligned_fn, NEW_ARRAY)
DEFINE_NEW(_ZnwmSt11align_val_tRKSt9nothrow_t, (size_t size, size_t al, const void *nt),
           aligned(al, size ? size : 1, NEW), (size, al, nt), new_aligned_nothrow_fn, NEW)
DEFINE_NEW(_ZnamSt11align_val_tRKSt9nothrow_t, (size_t size, size_t al, const void *nt),
           aligned(al, size ? size : 1, NEW_ARRAY), (size, al, nt), new_aligned_nothrow_fn, NEW_ARRAY)

/* operator delete and delete[], plain, sized, aligned, nothrow: free's path,
 * which checks that the block came from new or new[] respectively, and for
 * the sized forms that it holds the size they name (0 names none). */
#define UNUSED(x) (void)(x)
#define DELETE MT_RELEASE_DELETE
#define DELETE_ARRAY MT_RELEASE_DELETE_ARRAY
MT_EXPORT void _ZdlPv(void *p) { release(p, DELETE, 0); }
MT_EXPORT void _ZdaPv(void *p) { release(p, DELETE_ARRAY, 0); }
MT_EXPORT void _ZdlPvm(void *p, size_t n) { release(p, DELETE, n); }
MT_EXPORT void _ZdaPvm(void *p, size_t n) { release(p, DELETE_ARRAY, n); }
MT_EXPORT void _ZdlPvSt11align_val_t(void *p, size_t al) { UNUSED(al); release(p, DELETE, 0); }
MT_EXPORT void _ZdaPvSt11align_val_t(void *p, size_t al) { UNUSED(al); release(p, DELETE_ARRAY, 0); }
MT_EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t n, size_t al) { UNUSED(al); release(p, DELETE, n); }
MT_EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t n, size_t al) { UNUSED(al); release(p, DELETE_ARRAY, n); }
MT_EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const void *nt) { UNUSED(nt); release(p, DELETE, 0); }
MT_EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const void *nt) { UNUSED(nt); release(p, DELETE_ARRAY, 0); }
MT_EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const void *nt) {
    UNUSED(al), UNUSED(nt);
    release(p, DELETE, 0);
}
MT_EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const void *nt) {
    UNUSED(al), UNUSED(nt);
    release(p, DELETE_ARRAY, 0);
}

/* ---- dlclose ----------------------------------------------------------------
 * libunwind caches unwind information per address range; a library unloaded
 * and another loaded at the same address would be unwound with stale tables. */
MT_EXPORT int dlclose(void *handle) {
    ensure_started();
    if (!real_dlclose) real_dlclose = next_symbol("dlclose");
    int rc = real_dlclose(handle);
    if (mt_enabled) {
        mt_guard++;
        mt_unwind_flush();
        mt_leave();
    }
    return rc;
}

/* ---- pthread_getattr_np -------------------------------------------------------
 * It holds the thread's own lock while it allocates (the CPU set), so a
 * thread whose first recorded allocation happens there must not be described
 * with pthread_getattr_np then (threadstats.c): that waits for the same lock.
 * Rust's runtime calls it in every thread it starts. */
__thread int mt_in_getattr __attribute__((tls_model("initial-exec")));

MT_EXPORT int pthread_getattr_np(pthread_t thread, pthread_attr_t *attr) {
    ensure_started();
    if (MT_UNLIKELY(!real_getattr_np)) return ENOSYS;
    mt_in_getattr++;
    int rc = real_getattr_np(thread, attr);
    mt_in_getattr--;
    return rc;
}

/* ---- pthread_join and its kin -------------------------------------------------
 * A thread that ended keeps its result in its control block until joined:
 * the leak scan reads the control blocks of ended threads no join collected
 * (leaks.c), as memcheck does, and not the others, whose stale results are
 * the program's to free. */
static int joined(pthread_t thread, int rc) {
    if (rc == 0) mt_thread_joined((uint64_t)thread);
    return rc;
}

MT_EXPORT int pthread_join(pthread_t thread, void **result) {
    ensure_started();
    if (MT_UNLIKELY(!real_join)) return ENOSYS;
    return joined(thread, real_join(thread, result));
}

MT_EXPORT int pthread_tryjoin_np(pthread_t thread, void **result) {
    ensure_started();
    if (MT_UNLIKELY(!real_tryjoin)) return ENOSYS;
    return joined(thread, real_tryjoin(thread, result));
}

MT_EXPORT int pthread_timedjoin_np(pthread_t thread, void **result, const struct timespec *deadline) {
    ensure_started();
    if (MT_UNLIKELY(!real_timedjoin)) return ENOSYS;
    return joined(thread, real_timedjoin(thread, result, deadline));
}

MT_EXPORT int pthread_clockjoin_np(pthread_t thread, void **result, clockid_t clock, const struct timespec *deadline) {
    ensure_started();
    if (MT_UNLIKELY(!real_clockjoin)) return ENOSYS;
    return joined(thread, real_clockjoin(thread, result, clock, deadline));
}
