/*
 * Call stacks with libunwind.  unw_backtrace walks the stack with libunwind's
 * fast path (cached frame descriptions, per-thread cache so threads do not
 * share a lock).  The tracer's own frames (the hook, the recorder) are at the
 * top of every stack; they are skipped by address range rather than by a
 * fixed count, which inlining would make fragile.
 */
#include <link.h>
#include <string.h>

#include <libunwind.h>

#include "tracer.h"

static uintptr_t self_lo = UINTPTR_MAX, self_hi;

static int find_self(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    uintptr_t probe = (uintptr_t)data;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (start < lo) lo = start;
        if (start + ph->p_memsz > hi) hi = start + ph->p_memsz;
    }
    if (probe >= lo && probe < hi) {
        self_lo = lo;
        self_hi = hi;
        return 1;
    }
    return 0;
}

void mt_unwind_init(void) {
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    dl_iterate_phdr(find_self, (void *)(uintptr_t)&mt_unwind_init);
}

void mt_unwind_flush(void) { unw_flush_cache(unw_local_addr_space, 0, 0); }

static inline int is_self(uintptr_t ip) { return ip >= self_lo && ip < self_hi; }

int mt_is_self_address(uint64_t address) { return is_self((uintptr_t)address); }

/* Depth of the whole stack, for stacks longer than the buffer: walked again
 * with unw_step, so only when such a stack is seen for the first time. */
uint32_t mt_unwind_full_depth(void) {
    unw_context_t ctx;
    unw_cursor_t cursor;
    uint32_t n = 0;
    if (unw_getcontext(&ctx) != 0 || unw_init_local(&cursor, &ctx) != 0) return 0;
    do {
        unw_word_t ip = 0;
        unw_get_reg(&cursor, UNW_REG_IP, &ip);
        if (!is_self(ip)) n++;
    } while (unw_step(&cursor) > 0 && n < 1000000);
    return n;
}

int mt_unwind(uint64_t *pcs, int max, int *truncated) {
    enum { SLACK = 8 }; /* room for the tracer's own frames */
    int cap = max + SLACK;
    void *buf[cap];
    int n = unw_backtrace(buf, cap);
    int skip = 0;
    while (skip < n && is_self((uintptr_t)buf[skip])) skip++;
    int depth = 0;
    for (int i = skip; i < n && depth < max; i++) {
        /* Return addresses point after the call; minus one lands inside it,
         * so symbolization names the calling line, not the next one. */
        pcs[depth++] = (uint64_t)(uintptr_t)buf[i] - 1;
    }
    *truncated = n == cap || n - skip > max;
    return depth;
}
