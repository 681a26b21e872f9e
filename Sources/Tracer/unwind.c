/*
 * Call stacks.  On x86_64 the tracer walks the stack itself: each frame's rule
 * (where its caller's frame and return address are, whether rbp was saved) is
 * read once from .eh_frame (cfi.c) and kept in a lock-free cache by code
 * address, so a step costs a hash probe and one or two loads from the stack.
 * A frame the rules cannot describe (a signal frame, a DWARF expression, code
 * without unwind tables) sends the whole stack to libunwind's unw_backtrace,
 * which is about four times slower a frame but knows every case.  Other
 * architectures always use libunwind.
 *
 * The tracer's own frames (the hook, the recorder) are at the top of every
 * stack; they are skipped by address range rather than by a fixed count,
 * which inlining would make fragile.
 */
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static inline int is_self(uintptr_t ip) { return ip >= self_lo && ip < self_hi; }

int mt_is_self_address(uint64_t address) { return is_self((uintptr_t)address); }

/* ---- libunwind: the general path ------------------------------------------ */
static int libunwind_walk(uint64_t *raw, int cap) {
    void *buf[cap];
    int n = unw_backtrace(buf, cap);
    for (int i = 0; i < n; i++) raw[i] = (uint64_t)(uintptr_t)buf[i];
    return n;
}

static uint32_t libunwind_depth(void) {
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

/* ---- the fast path ---------------------------------------------------------- */
#if defined(__x86_64__)

/* A rule packed in one word: bits 0-1 kind (MT_CFI_*), bit 2 CFA from rbp,
 * bits 16-31 rbp's save offset, bits 32-63 the CFA offset.  A slot holds the
 * rule and (address ^ rule): a reader that sees halves of two writes finds
 * they do not check out and takes the slow path. */
#define RULE_BITS 14
struct rule_slot {
    uint64_t check, rule;
};
static struct rule_slot *rules;

static uint64_t pack(int kind, const struct mt_cfi_rule *r) {
    if (kind != MT_CFI_OK) return (uint64_t)kind;
    return (uint64_t)kind | (r->cfa_is_rbp ? 4u : 0u) | (uint64_t)(uint16_t)r->rbp_off << 16 |
           (uint64_t)(uint32_t)r->cfa_off << 32;
}

static inline struct rule_slot *slot_for(uint64_t key) {
    return &rules[(key * 0x9e3779b97f4a7c15ull) >> (64 - RULE_BITS)];
}

__attribute__((noinline)) static uint64_t rule_miss(uint64_t key) {
    struct mt_cfi_rule r = {0, 0, 0};
    uint64_t rule = pack(mt_cfi_rule(key, &r), &r);
    struct rule_slot *s = slot_for(key);
    __atomic_store_n(&s->rule, rule, __ATOMIC_RELAXED);
    __atomic_store_n(&s->check, key ^ rule, __ATOMIC_RELAXED);
    return rule;
}

static inline uint64_t rule_for(uint64_t key) {
    struct rule_slot *s = slot_for(key);
    uint64_t rule = __atomic_load_n(&s->rule, __ATOMIC_RELAXED);
    uint64_t check = __atomic_load_n(&s->check, __ATOMIC_RELAXED);
    if (MT_LIKELY(rule != 0 && (check ^ rule) == key)) return rule;
    return rule_miss(key);
}

/* Walks from the given registers; frame 0's pc is exact, the others are
 * return addresses.  Returns the frames written (at most cap, and then
 * *more says whether the stack goes on), or -1 when a frame needs libunwind. */
static int fast_walk(uint64_t ip, uint64_t sp, uint64_t bp, uint64_t *raw, int cap, int *more) {
    int n = 0;
    uint64_t key = ip;
    *more = 0;
    for (;;) {
        if (n == cap) {
            *more = 1;
            return n;
        }
        raw[n++] = ip;
        uint64_t rule = rule_for(key);
        if (MT_UNLIKELY((rule & 3) != MT_CFI_OK)) return (rule & 3) == MT_CFI_END ? n : -1;
        uint64_t cfa = ((rule & 4) ? bp : sp) + (uint64_t)(int64_t)(int32_t)(rule >> 32);
        /* A frame is above its callee and not absurdly large; anything else
         * means rules that do not fit this code: let libunwind judge. */
        if (MT_UNLIKELY(cfa <= sp || cfa - sp > (64u << 20))) return -1;
        int16_t rbp_off = (int16_t)(rule >> 16);
        if (rbp_off) bp = *(const uint64_t *)(uintptr_t)(cfa + (uint64_t)(int64_t)rbp_off);
        ip = *(const uint64_t *)(uintptr_t)(cfa - 8);
        sp = cfa;
        if (ip == 0) return n; /* the outermost frame of a thread */
        key = ip - 1;          /* inside the call instruction */
    }
}

#define CURRENT_REGS(ip, sp, bp) \
    __asm__ volatile("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbp, %2" : "=r"(ip), "=r"(sp), "=r"(bp))

static int fast_ready;

static void fast_init(void) {
    rules = mt_map(sizeof(struct rule_slot) << RULE_BITS);
    fast_ready = rules != NULL && getenv("MEMTRACE_LIBUNWIND") == NULL;
}

static void fast_flush(void) {
    if (!rules) return;
    mt_cfi_forget_modules();
    for (size_t i = 0; i < (1u << RULE_BITS); i++) __atomic_store_n(&rules[i].rule, 0, __ATOMIC_RELAXED);
}

#else
static int fast_ready;
static void fast_init(void) {}
static void fast_flush(void) {}
#endif

/* ---- MEMTRACE_UNWIND_CHECK=1: every fast walk is compared with libunwind's --
 * and the tally is printed at exit; the tests run real programs this way. */
static int check_mode;
static uint64_t checked, differed, handed_over;

static int strip_self(const uint64_t *raw, int n, int *skip) {
    int s = 0;
    while (s < n && is_self((uintptr_t)raw[s])) s++;
    *skip = s;
    return n - s;
}

static void check_walk(const uint64_t *raw, int n, int more, int cap) {
    uint64_t other[cap];
    int m = libunwind_walk(other, cap);
    int sa, sb;
    int na = strip_self(raw, n, &sa), nb = strip_self(other, m, &sb);
    /* A walk cut at cap frames (counted from different starts: libunwind's
     * begins one call deeper) is compared on what both hold. */
    int same = (more || m == cap) ? 1 : na == nb;
    int k = na < nb ? na : nb;
    for (int i = 0; same && i < k; i++) same = raw[sa + i] == other[sb + i];
    __atomic_add_fetch(&checked, 1, __ATOMIC_RELAXED);
    if (same) return;
    if (__atomic_add_fetch(&differed, 1, __ATOMIC_RELAXED) > 3) return;
    char line[4096];
    int len = snprintf(line, sizeof line, "memtrace: unwind check: walks differ\n  fast:");
    for (int i = 0; i < na && len < 3000; i++) len += snprintf(line + len, sizeof line - len, " %lx", (unsigned long)raw[sa + i]);
    len += snprintf(line + len, sizeof line - len, "\n  libunwind:");
    for (int i = 0; i < nb && len < 4000; i++)
        len += snprintf(line + len, sizeof line - len, " %lx", (unsigned long)other[sb + i]);
    if (len < (int)sizeof line - 1) line[len++] = '\n';
    if (write(2, line, (size_t)(len < (int)sizeof line ? len : (int)sizeof line)) < 0) return;
}

__attribute__((destructor(102))) static void check_report(void) {
    if (!check_mode) return;
    char line[256];
    int len = snprintf(line, sizeof line, "memtrace: unwind check: %lu stacks, %lu differ, %lu handed to libunwind\n",
                       (unsigned long)checked, (unsigned long)differed, (unsigned long)handed_over);
    if (write(2, line, (size_t)len) < 0) return;
}

/* ---- interface ------------------------------------------------------------- */
void mt_unwind_init(void) {
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    dl_iterate_phdr(find_self, (void *)(uintptr_t)&mt_unwind_init);
    fast_init();
    const char *check = getenv("MEMTRACE_UNWIND_CHECK");
    check_mode = check && *check == '1';
}

void mt_unwind_flush(void) {
    unw_flush_cache(unw_local_addr_space, 0, 0);
    fast_flush();
}

/* Depth of the whole stack, for stacks longer than the buffer: walked again,
 * so only when such a stack is seen for the first time. */
__attribute__((noinline)) uint32_t mt_unwind_full_depth(void) {
#if defined(__x86_64__)
    if (fast_ready) {
        enum { CHUNK = 256 };
        uint64_t raw[CHUNK];
        uint64_t ip, sp, bp;
        CURRENT_REGS(ip, sp, bp);
        int more = 0;
        int n = fast_walk(ip, sp, bp, raw, CHUNK, &more);
        if (n >= 0 && !more) {
            uint32_t depth = 0;
            for (int i = 0; i < n; i++) depth += !is_self((uintptr_t)raw[i]);
            return depth;
        }
    }
#endif
    return libunwind_depth();
}

__attribute__((noinline)) int mt_unwind(uint64_t *pcs, int max, int *truncated) {
    enum { SLACK = 8 }; /* room for the tracer's own frames */
    int cap = max + SLACK;
    uint64_t raw[cap];
    int n = -1, more = 0;
#if defined(__x86_64__)
    if (MT_LIKELY(fast_ready)) {
        uint64_t ip, sp, bp;
        CURRENT_REGS(ip, sp, bp);
        n = fast_walk(ip, sp, bp, raw, cap, &more);
    }
#endif
    if (n < 0) {
        if (check_mode) __atomic_add_fetch(&handed_over, 1, __ATOMIC_RELAXED);
        n = libunwind_walk(raw, cap);
        more = n == cap;
    } else if (MT_UNLIKELY(check_mode)) {
        check_walk(raw, n, more, cap);
    }
    int skip = 0;
    while (skip < n && is_self((uintptr_t)raw[skip])) skip++;
    int depth = 0;
    for (int i = skip; i < n && depth < max; i++) {
        /* Return addresses point after the call; minus one lands inside it,
         * so symbolization names the calling line, not the next one. */
        pcs[depth++] = raw[i] - 1;
    }
    *truncated = more || n - skip > max;
    return depth;
}
