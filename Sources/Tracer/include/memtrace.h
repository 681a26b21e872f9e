/**
 * @file memtrace.h
 * @brief Ask the memtrace tracer for snapshots and heap figures from inside a program.
 *
 * Include this header and call the functions below; do not link anything.
 * Every function works whether or not the program runs under the tracer
 * (`LD_PRELOAD=libtrace.so`): the header looks the tracer up at run time with
 * dlsym(), so the same binary runs plain or traced.  When the tracer is absent
 * the functions report that (memtrace_is_tracing() returns 0, the others
 * return -1 or 0) and do nothing else.
 *
 * Thread safety: every function may be called from any thread at any time,
 * except from a signal handler.  Snapshots taken concurrently are written one
 * after the other.
 *
 * Link with -ldl on glibc older than 2.34 (dlsym moved into libc there).
 */
#ifndef MEMTRACE_H
#define MEMTRACE_H

#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @cond internal: finds an exported tracer function, or NULL without the tracer. */
static inline void *memtrace__lookup(void **cache, const char *name) {
    if (*cache == NULL) {
        void *f = dlsym((void *)0 /* RTLD_DEFAULT */, name);
        *cache = f ? f : (void *)1;
    }
    return *cache == (void *)1 ? NULL : *cache;
}
typedef int (*memtrace__void_fn)(void);
typedef int (*memtrace__path_fn)(const char *);
typedef int (*memtrace__memory_fn)(size_t *, size_t *);
typedef long (*memtrace__label_fn)(const char *);
typedef int (*memtrace__pointer_fn)(const void *);
typedef long (*memtrace__growth_fn)(void (*)(void *), void *, int, int, const char *);
typedef long (*memtrace__count_fn)(void);
/** @endcond */

/**
 * Whether this process is being traced.
 * @return 1 when libtrace.so is loaded and recording, 0 otherwise.
 */
static inline int memtrace_is_tracing(void) {
    static void *cache;
    memtrace__void_fn f = (memtrace__void_fn)memtrace__lookup(&cache, "memtrace_impl_is_tracing");
    return f ? f() : 0;
}

/**
 * Writes a snapshot of the live heap now, like Python's tracemalloc.take_snapshot().
 * @param path file to write, or NULL for the next name from MEMTRACE_OUTPUT.
 *             The file is replaced atomically and created with mode 0600.
 * @return 0 on success; -1 with errno set when the file could not be written,
 *         or errno ENOSYS when the tracer is not loaded.
 */
static inline int memtrace_snapshot(const char *path) {
    static void *cache;
    memtrace__path_fn f = (memtrace__path_fn)memtrace__lookup(&cache, "memtrace_impl_snapshot");
    if (!f) {
        errno = ENOSYS;
        return -1;
    }
    return f(path);
}

/**
 * Current and peak traced heap, in requested bytes, like tracemalloc.get_traced_memory().
 * Either pointer may be NULL.  Both are set to 0 without the tracer.  Exact when one thread
 * allocates; with several, each thread adds its changes to the total in 256 KiB steps, so
 * the figures may be off by up to that much per other thread (snapshots are exact).
 * @return 0 when tracing, -1 otherwise.
 */
static inline int memtrace_get_traced_memory(size_t *current, size_t *peak) {
    if (current) *current = 0;
    if (peak) *peak = 0;
    static void *cache;
    memtrace__memory_fn f = (memtrace__memory_fn)memtrace__lookup(&cache, "memtrace_impl_get_traced_memory");
    return f ? f(current, peak) : -1;
}

/**
 * Sets the peak to the current size, like tracemalloc.reset_peak(); the next
 * snapshot's per-site peak figures start from here too.
 * @return 0 when tracing, -1 otherwise.
 */
static inline int memtrace_reset_peak(void) {
    static void *cache;
    memtrace__void_fn f = (memtrace__void_fn)memtrace__lookup(&cache, "memtrace_impl_reset_peak");
    return f ? f() : -1;
}

/**
 * @name Leak checks for tests
 * Like gperftools' HeapLeakChecker and LeakSanitizer's interface, on an
 * unmodified allocator.  Regions do not nest: there is one at a time in the
 * process, watching every thread or only the one that began it.
 * @{
 */

/**
 * Starts a checked region: every block allocated from now on (by any thread)
 * is watched until memtrace_region_end().
 * @return 0, or -1 without the tracer.
 */
static inline int memtrace_region_begin(void) {
    static void *cache;
    memtrace__void_fn f = (memtrace__void_fn)memtrace__lookup(&cache, "memtrace_impl_region_begin");
    return f ? f() : -1;
}

/**
 * Starts a checked region that watches only the calling thread's allocations:
 * what other threads allocate meanwhile (a runtime's timers, a logger, a
 * thread pool serving someone else) is not counted.  For code that allocates
 * on the thread that runs it; a body handing work to other threads needs
 * memtrace_region_begin().
 * @return 0, or -1 without the tracer.
 */
static inline int memtrace_region_begin_thread(void) {
    static void *cache;
    memtrace__void_fn f = (memtrace__void_fn)memtrace__lookup(&cache, "memtrace_impl_region_begin_thread");
    return f ? f() : -1;
}

/**
 * Ends the checked region.  Blocks allocated in it and still live (except
 * those passed to memtrace_ignore()) are reported on standard error, grouped
 * by allocation stack, under `label`; so are the blocks the tracer found
 * written one byte past their end while the region was open (heap overruns).
 * @return the bytes still live, 0 when none, -1 without the tracer.
 */
static inline long memtrace_region_end(const char *label) {
    static void *cache;
    memtrace__label_fn f = (memtrace__label_fn)memtrace__lookup(&cache, "memtrace_impl_region_end");
    return f ? f(label) : -1;
}

/**
 * Marks a live block as intentionally kept: it is never reported as a leak,
 * and what it points to counts as reachable (LSan's __lsan_ignore_object).
 * @return 0, or -1 without the tracer or when `block` is not a live block.
 */
static inline int memtrace_ignore(const void *block) {
    static void *cache;
    memtrace__pointer_fn f = (memtrace__pointer_fn)memtrace__lookup(&cache, "memtrace_impl_ignore");
    return f ? f(block) : -1;
}

/**
 * Stops recording this thread's allocations until memtrace_enable(); calls
 * nest.  Releases are still recorded.
 * @return 0, or -1 without the tracer.
 */
static inline int memtrace_disable(void) {
    static void *cache;
    memtrace__void_fn f = (memtrace__void_fn)memtrace__lookup(&cache, "memtrace_impl_disable");
    return f ? f() : -1;
}

/** Undoes one memtrace_disable(). @return 0, or -1 without the tracer. */
static inline int memtrace_enable(void) {
    static void *cache;
    memtrace__void_fn f = (memtrace__void_fn)memtrace__lookup(&cache, "memtrace_impl_enable");
    return f ? f() : -1;
}

/**
 * Runs `body(context)` `warmup` times, then `iterations` times, and reports
 * (on standard error, under `label`) the allocation stacks whose live bytes
 * grew in every one of the iterations: a leak per call, not a cache that
 * fills once.  Without the tracer the body is not run.
 * @return the bytes those stacks gained over the iterations, 0 when none,
 *         -1 without the tracer.
 */
static inline long memtrace_check_growth(void (*body)(void *), void *context, int warmup, int iterations,
                                         const char *label) {
    static void *cache;
    memtrace__growth_fn f = (memtrace__growth_fn)memtrace__lookup(&cache, "memtrace_impl_check_growth");
    return f ? f(body, context, warmup, iterations, label) : -1;
}

/**
 * The blocks found so far written one byte past their end (heap overruns: a
 * string's terminator one byte too far), in the whole process.  The tracer
 * finds such a block when it is released, or when a snapshot or a region's
 * end reads its record, so a test that frees what it made and then asks sees
 * all of it; compare the count before and after the code under test.
 * @return the count, or -1 without the tracer.
 */
static inline long memtrace_overruns(void) {
    static void *cache;
    memtrace__count_fn f = (memtrace__count_fn)memtrace__lookup(&cache, "memtrace_impl_overruns");
    return f ? f() : -1;
}

/**
 * The blocks released so far otherwise than they were allocated (a block of
 * new[] released with delete, of new with free or delete[], of malloc with
 * delete...), in the whole process: compare the count before and after the
 * code under test.
 * @return the count, or -1 without the tracer.
 */
static inline long memtrace_mismatches(void) {
    static void *cache;
    memtrace__count_fn f = (memtrace__count_fn)memtrace__lookup(&cache, "memtrace_impl_mismatches");
    return f ? f() : -1;
}

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* MEMTRACE_H */
