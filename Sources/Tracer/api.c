/*
 * The functions memtrace.h finds with dlsym.  They are the library's only
 * exported symbols besides the allocator entry points.
 */
#include <errno.h>

#include "format.h"
#include "tracer.h"

MT_EXPORT int memtrace_impl_is_tracing(void) { return mt_enabled ? 1 : 0; }

MT_EXPORT int memtrace_impl_snapshot(const char *path) {
    if (!mt_enabled) {
        errno = ENOSYS;
        return -1;
    }
    return mt_snapshot(path, MT_TRIGGER_API);
}

MT_EXPORT int memtrace_impl_get_traced_memory(size_t *current, size_t *peak) {
    if (!mt_enabled) return -1;
    if (current) *current = (size_t)mt_current_bytes();
    if (peak) *peak = (size_t)__atomic_load_n(&mt_global.peak, __ATOMIC_RELAXED);
    return 0;
}

MT_EXPORT int memtrace_impl_reset_peak(void) {
    if (!mt_enabled) return -1;
    mt_reset_peak();
    return 0;
}

MT_EXPORT int memtrace_impl_region_begin(void) { return mt_enabled ? mt_region_begin(MT_REGION_ALL) : -1; }

MT_EXPORT int memtrace_impl_region_begin_thread(void) { return mt_enabled ? mt_region_begin(MT_REGION_THREAD) : -1; }

MT_EXPORT long memtrace_impl_region_end(const char *label) { return mt_enabled ? mt_region_end(label) : -1; }

MT_EXPORT int memtrace_impl_ignore(const void *p) {
    if (!mt_enabled || !p) return -1;
    mt_guard++;
    mt_set_block_flags((void *)p, MT_SLOT_IGNORED, 0);
    mt_leave();
    return 0;
}

MT_EXPORT int memtrace_impl_disable(void) {
    if (!mt_enabled) return -1;
    mt_paused++;
    return 0;
}

MT_EXPORT int memtrace_impl_enable(void) {
    if (!mt_enabled) return -1;
    if (mt_paused > 0) mt_paused--;
    return 0;
}

MT_EXPORT long memtrace_impl_check_growth(void (*body)(void *), void *context, int warmup, int iterations,
                                          const char *label) {
    if (!mt_enabled) return -1;
    return mt_check_growth(body, context, warmup, iterations, label);
}

MT_EXPORT long memtrace_impl_overruns(void) {
    return mt_enabled ? (long)__atomic_load_n(&mt_overrun_blocks, __ATOMIC_RELAXED) : -1;
}

MT_EXPORT long memtrace_impl_mismatches(void) {
    return mt_enabled ? (long)__atomic_load_n(&mt_mismatch_blocks, __ATOMIC_RELAXED) : -1;
}
