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
    if (current) *current = (size_t)__atomic_load_n(&mt_global.current, __ATOMIC_RELAXED);
    if (peak) *peak = (size_t)__atomic_load_n(&mt_global.peak, __ATOMIC_RELAXED);
    return 0;
}

MT_EXPORT int memtrace_impl_reset_peak(void) {
    if (!mt_enabled) return -1;
    mt_reset_peak();
    return 0;
}
