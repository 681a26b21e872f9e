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
 * Either pointer may be NULL.  Both are set to 0 without the tracer.
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

#ifdef __cplusplus
}
#endif

#endif /* MEMTRACE_H */
