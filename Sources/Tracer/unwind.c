/*
 * Call stacks.  On x86_64 the tracer walks the stack itself: each frame's rule
 * (where its caller's frame and return address are, whether rbp was saved) is
 * read once from .eh_frame (cfi.c) and kept in a lock-free cache by code
 * address, so a step costs a hash probe and one or two loads from the stack.
 * A frame the rules cannot describe sends the whole stack to a careful walk:
 * code without unwind tables (hand-written assembly, JIT code) is stepped by
 * its frame pointer, read with process_vm_readv so that a bad one cannot
 * fault; a signal frame or a DWARF expression sends the stack to libunwind,
 * about four times slower a frame but knowing every case.  Other
 * architectures always use libunwind.
 *
 * libunwind is never let near code without unwind tables: there it guesses
 * from the frame pointer and checks each address by writing a byte from it
 * into a pipe it opened at its start.  A program that closes its descriptors
 * and opens files under the same numbers (daemons, closefrom()) would have
 * its input read and its output written by that check.  For the same reason
 * libunwind is started only when first needed: its pipe takes two
 * descriptors, which a program that never needs libunwind should not see.
 *
 * The tracer's own frames (the hook, the recorder) are at the top of every
 * stack; they are skipped by address range rather than by a fixed count,
 * which inlining would make fragile.
 */
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
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

/* How many of a walk's innermost frames are the tracer's own. */
static inline int self_frames(const uint64_t *raw, int n) {
    int skip = 0;
    while (skip < n && is_self((uintptr_t)raw[skip])) skip++;
    return skip;
}

int mt_is_self_address(uint64_t address) { return is_self((uintptr_t)address); }

void mt_self_range(uint64_t *lo, uint64_t *hi) {
    *lo = self_lo;
    *hi = self_hi;
}

/* ---- libunwind: the general path ------------------------------------------ */
static int libunwind_started;

static void start_libunwind(void) {
    if (__atomic_load_n(&libunwind_started, __ATOMIC_ACQUIRE)) return;
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    __atomic_store_n(&libunwind_started, 1, __ATOMIC_RELEASE);
}

static int no_unwind_info(uint64_t key);

/* libunwind's walk from here, written as pcs minus one; it stops at a frame
 * that no unwind information covers (see the top of this file).  With
 * `depth_only`, counts the frames that are not the tracer's instead. */
static int libunwind_walk_from_here(uint64_t *raw, int cap, int depth_only) {
    start_libunwind();
    unw_context_t ctx;
    unw_cursor_t cursor;
    int n = 0;
    if (unw_getcontext(&ctx) != 0 || unw_init_local(&cursor, &ctx) != 0) return 0;
    do {
        unw_word_t ip = 0;
        unw_get_reg(&cursor, UNW_REG_IP, &ip);
        if (ip == 0) break;
        if (!depth_only) raw[n] = (uint64_t)ip - 1;
        if (!depth_only || !is_self(ip)) n++;
        if (n == cap || no_unwind_info((uint64_t)ip - 1)) break; /* ip: a return address */
    } while (unw_step(&cursor) > 0);
    return n;
}

static __attribute__((noinline)) int libunwind_walk(uint64_t *raw, int cap) {
    return libunwind_walk_from_here(raw, cap, 0);
}

static __attribute__((noinline)) uint32_t libunwind_depth(void) {
    return (uint32_t)libunwind_walk_from_here(NULL, 1000000, 1);
}

/* ---- the fast path ---------------------------------------------------------- */
#if defined(__x86_64__)

/* A rule packed in one word: bits 0-1 kind (MT_CFI_*), bit 2 CFA from rbp,
 * bits 16-31 rbp's save offset, bits 32-63 the CFA offset.  A slot holds the
 * rule and (address ^ rule): a reader that sees halves of two writes finds
 * they do not check out and takes the slow path.
 *
 * The cache is 4-way set associative: an address is looked for first in its
 * own slot, then in the three others of its bucket (one cache line); a new
 * rule takes its own slot if free, else another free one, else one in turn.
 * Direct-mapped, a few thousand hot addresses in 16k slots always had
 * some pairs sharing a slot and evicting each other on every walk, each miss
 * a read of .eh_frame (about a thousand instructions); which pairs depended on
 * where the libraries were loaded: the same python3 run spent 50M
 * instructions (3%) reading .eh_frame again in one layout, 5M in another. */
#define RULE_BITS 14 /* slots in all */
#define RULE_WAYS 4
struct rule_slot {
    uint64_t check, rule;
};
static struct rule_slot *rules;
static unsigned rule_victim; /* which slot of a full bucket goes next; races are harmless */

static uint64_t pack(int kind, const struct mt_cfi_rule *r) {
    if (kind != MT_CFI_OK) return (uint64_t)kind;
    return (uint64_t)kind | (r->cfa_is_rbp ? 4u : 0u) | (uint64_t)(uint16_t)r->rbp_off << 16 |
           (uint64_t)(uint32_t)r->cfa_off << 32;
}

/* An address's own slot: where it is looked for first, and put when free. */
static inline uint64_t slot_index(uint64_t key) { return (key * 0x9e3779b97f4a7c15ull) >> (64 - RULE_BITS); }

static inline int rule_matches(const struct rule_slot *s, uint64_t key, uint64_t *rule_out) {
    uint64_t rule = __atomic_load_n(&s->rule, __ATOMIC_RELAXED);
    uint64_t check = __atomic_load_n(&s->check, __ATOMIC_RELAXED);
    *rule_out = rule;
    return rule != 0 && (check ^ rule) == key;
}

/* Not in its own slot: the other slots of its bucket, else .eh_frame. */
__attribute__((noinline)) static uint64_t rule_miss(uint64_t key) {
    uint64_t own = slot_index(key), rule;
    struct rule_slot *b = &rules[own & ~(uint64_t)(RULE_WAYS - 1)], *s = NULL;
    for (int i = 0; i < RULE_WAYS; i++)
        if (rule_matches(&b[i], key, &rule)) return rule;
    struct mt_cfi_rule r = {0, 0, 0};
    rule = pack(mt_cfi_rule(key, &r), &r);
    if (__atomic_load_n(&rules[own].rule, __ATOMIC_RELAXED) == 0) s = &rules[own];
    for (int i = 0; i < RULE_WAYS && !s; i++)
        if (__atomic_load_n(&b[i].rule, __ATOMIC_RELAXED) == 0) s = &b[i];
    if (!s) s = &b[__atomic_fetch_add(&rule_victim, 1, __ATOMIC_RELAXED) % RULE_WAYS];
    __atomic_store_n(&s->rule, rule, __ATOMIC_RELAXED);
    __atomic_store_n(&s->check, key ^ rule, __ATOMIC_RELAXED);
    return rule;
}

static inline uint64_t rule_for(uint64_t key) {
    uint64_t rule;
    if (MT_LIKELY(rule_matches(&rules[slot_index(key)], key, &rule))) return rule;
    return rule_miss(key);
}

/* The registers a walk has at a frame. */
struct regs {
    uint64_t ip, sp, bp;
    uint64_t bp_slot; /* where bp was read from; 0: carried over from the callee */
};

enum { STEPPED, OUTERMOST, ASK_LIBUNWIND };

static int read_word(uint64_t addr, uint64_t lo, uint64_t hi, uint64_t *out);

/* From frame r (whose rule is looked up by `key`: its exact pc for the first
 * frame, the return address minus one for the others) to its caller.
 * `guarded`: the walk has followed a frame pointer, so the frame reached may
 * be none (a register that only held a number), and where its rule says the
 * caller's registers are is read without faulting (read_word). */
static inline __attribute__((always_inline)) int step_from(struct regs *r, uint64_t key, uint64_t *rule_out,
                                                           int guarded, uint64_t lo, uint64_t hi) {
    uint64_t rule = rule_for(key);
    *rule_out = rule;
    if (MT_UNLIKELY((rule & 3) != MT_CFI_OK)) return (rule & 3) == MT_CFI_END ? OUTERMOST : ASK_LIBUNWIND;
    uint64_t cfa = ((rule & 4) ? r->bp : r->sp) + (uint64_t)(int64_t)(int32_t)(rule >> 32);
    /* A frame is above its callee and not absurdly large; anything else
     * means rules that do not fit this code: let libunwind judge. */
    if (MT_UNLIKELY(cfa <= r->sp || cfa - r->sp > (64u << 20))) return ASK_LIBUNWIND;
    int16_t rbp_off = (int16_t)(rule >> 16);
    uint64_t bp = r->bp, bp_slot = 0, ip;
    if (rbp_off) {
        bp_slot = cfa + (uint64_t)(int64_t)rbp_off;
        if (!guarded) bp = *(const uint64_t *)(uintptr_t)bp_slot;
        else if (read_word(bp_slot, lo, hi, &bp) != 0) return OUTERMOST;
    }
    if (!guarded) ip = *(const uint64_t *)(uintptr_t)(cfa - 8);
    else if (read_word(cfa - 8, lo, hi, &ip) != 0) return OUTERMOST;
    r->bp_slot = bp_slot;
    r->bp = bp;
    r->ip = ip;
    r->sp = cfa;
    return ip ? STEPPED : OUTERMOST; /* a zero return address ends a thread's stack */
}
static inline int step(struct regs *r, uint64_t key, uint64_t *rule_out) { return step_from(r, key, rule_out, 0, 0, 0); }

/* Walks from the given registers, by rules only, writing each frame's pc
 * minus one (for a return address: inside the call, so that symbolization
 * names the calling line).  Returns the frames written (at most cap, and then
 * *more says whether the stack goes on), or -1 when a frame needs libunwind. */
static int rules_walk(struct regs r, uint64_t key, uint64_t *raw, int cap, int *more) {
    int n = 0;
    uint64_t rule;
    *more = 0;
    for (;;) {
        raw[n++] = r.ip - 1;
        int s = step(&r, key, &rule);
        if (s != STEPPED) return s == OUTERMOST ? n : -1;
        if (n == cap) {
            *more = 1;
            return n;
        }
        key = r.ip - 1;
    }
}

#define CURRENT_REGS(r)                                                    \
    __asm__ volatile("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbp, %2" \
                     : "=r"((r).ip), "=r"((r).sp), "=r"((r).bp));             \
    (r).bp_slot = 0

/* Reads `words` words at `addr` into `out` without faulting: 0, or -1 when
 * they are not all readable. */
static int read_safely(uint64_t addr, uint64_t *out, size_t words) {
    struct iovec local = {out, words * sizeof *out}, remote = {(void *)(uintptr_t)addr, words * sizeof *out};
    return syscall(SYS_process_vm_readv, getpid(), &local, 1UL, &remote, 1UL, 0UL) == (long)(words * sizeof *out)
               ? 0 : -1;
}

/* msync rather than mincore, which seccomp filters of services leave out
 * (arena.c): on a range with a page not mapped, both fail with ENOMEM, and
 * MS_ASYNC writes nothing back. */
int mt_range_mapped(uint64_t lo, uint64_t hi) {
    if (hi <= lo || hi - lo > (32u << 20)) return 0;
    uint64_t start = lo & ~4095ull;
    return msync((void *)(uintptr_t)start, hi - start, MS_ASYNC) == 0;
}

/* A word of the stack: [lo, hi) is mapped (the part of the thread's stack the
 * walk runs on), read there directly; elsewhere only through
 * process_vm_readv, which fails where a load would fault. */
static int read_word(uint64_t addr, uint64_t lo, uint64_t hi, uint64_t *out) {
    if (addr >= lo && addr < hi && hi - addr >= 8) {
        *out = *(const uint64_t *)(uintptr_t)addr;
        return 0;
    }
    return read_safely(addr, out, 1);
}

/* From a frame of code without unwind information to its caller, through the
 * frame pointer, as a compiler's `push rbp; mov rsp, rbp` leaves it: saved
 * rbp at [rbp], return address above it.  Read directly on the thread's own
 * stack, where a JIT's or an interpreter's frames all lie, a step makes no
 * system call (java made two a frame, 24 an allocation, and ran 2.95 times as
 * long traced). */
static int frame_pointer_step(struct regs *r, uint64_t lo, uint64_t hi) {
    uint64_t bp, ip;
    if (r->bp < r->sp || r->bp - r->sp > (64u << 20) || (r->bp & 7)) return OUTERMOST;
    if (read_word(r->bp, lo, hi, &bp) != 0 || read_word(r->bp + 8, lo, hi, &ip) != 0) return OUTERMOST;
    r->sp = r->bp + 16;
    r->bp_slot = r->bp;
    r->bp = bp;
    r->ip = ip;
    return r->ip ? STEPPED : OUTERMOST;
}

/* The part of the calling thread's stack from `sp` up that is mapped, into
 * [*lo, *hi); empty when sp is not on it (a signal stack, a coroutine's).  The
 * main thread's stack grows: a walk that starts below the part known so far
 * checks that the pages between are mapped (so contiguous with it: below the
 * stack the kernel keeps a gap that nothing is mapped into but by address). */
static void own_stack(uint64_t sp, uint64_t *lo, uint64_t *hi) {
    struct mt_thread *self = mt_thread_self();
    *lo = *hi = 0;
    if (!self || sp >= self->stack_hi || sp < self->stack_lo) return;
    if (sp < self->mapped_lo) {
        uint64_t page = sp & ~4095ull;
        if (!self->main_thread || !mt_range_mapped(page, self->mapped_lo)) return;
        self->mapped_lo = page;
    }
    *lo = sp;
    *hi = self->stack_hi;
}

/* The walk for a stack the fast walks gave up on: by rules, and by frame
 * pointer through code without unwind information; -1 when a frame needs
 * libunwind. */
static __attribute__((noinline)) int careful_walk(uint64_t *raw, int cap) {
    struct regs r;
    CURRENT_REGS(r);
    uint64_t key = r.ip, rule, lo, hi;
    own_stack(r.sp, &lo, &hi);
    int n = 0, followed = 0; /* a frame pointer */
    for (;;) {
        raw[n++] = r.ip - 1;
        int s = step_from(&r, key, &rule, followed, lo, hi);
        if (s == ASK_LIBUNWIND && rule == MT_CFI_NOINFO) s = frame_pointer_step(&r, lo, hi), followed = 1;
        if (s == OUTERMOST || n == cap) return n;
        if (s == ASK_LIBUNWIND) return -1;
        key = r.ip - 1;
    }
}

static int no_unwind_info(uint64_t key) { return rules && rule_for(key) == MT_CFI_NOINFO; }

/* ---- the previous stack, per thread -----------------------------------------
 * Consecutive allocations on a thread mostly share their outer frames.  The
 * thread keeps its last walk with, for each frame, the registers the walk had
 * there and where it read them from.  When a new walk reaches a frame with the
 * same pc and stack pointer as a remembered one, the remembered frames beyond
 * it are taken as they are for as long as the stack still holds the same
 * return addresses (and saved rbp values, where rbp locates a frame) at the
 * same places: exactly the memory a fresh walk would read, in the order it
 * would read it, so the result is the fresh walk's.  At the first difference
 * the walk goes on by rules from the last frame that agreed. */
#define CACHE_FRAMES (MT_DEFAULT_FRAMES + MT_UNWIND_SLACK)
struct frame {
    struct regs r;
    uint64_t rule; /* of this frame's pc; bit 8: bp matters from here on */
    uint64_t hash; /* of the pcs from this frame out (mt_stack_hash_step), when the walk reached the end */
};
#define BP_MATTERS 0x100u
/* ---- whole stacks by call site, per thread ---------------------------------
 * Most allocations come from a call site the thread has allocated from
 * before, at the same depth of the stack, with the same callers: a loop, a
 * recursion of a given depth, an interpreter running the same code.  So a
 * thread also keeps, by the first frame's pc and stack pointer, the stacks it
 * walked, each as the list of stack words a walk read (return addresses, and
 * saved rbp values where they locate a frame) with what it found there, and
 * the stack's id.  When every word still holds what it held, a fresh walk
 * would read the same words, step the same way and end at the same frames:
 * the id is taken as it is, without walking, hashing or interning.  The
 * words are checked innermost first, four a turn, so each address read is one
 * the fresh walk would read too (the ones before it agreed), or one of the
 * three after a word that differed: words above this stack pointer that were
 * this thread's stack when the list was made.  Only a thread that switches
 * stacks (coroutines) and meets the same place on a smaller stack at the same
 * address could find one of those unmapped.
 * The lists go into a ring; an entry whose list was written over is gone.
 *
 * One place can have many stacks: python3 allocates every object from the
 * same return address, at the same depth under callers that differ further
 * out.  Four ways a set, kept in the order they were used: in a trace of
 * python3's allocations, 87% of them found their stack with two ways, 97.5%
 * with four, and barely more with more entries. */
#define SITE_SETS_BITS 7
#define SITE_WAYS 4
#define SITE_RING 16384 /* checks: 256 KiB */
struct site_check {
    uint64_t addr, value;
};
struct site {
    uint64_t ip, sp, bp; /* the first frame's registers (bp compared only where it matters) */
    uint64_t pos;        /* the first check's place in the ring, counted from its start */
    uint32_t stack;      /* 0: an empty entry */
    uint16_t checks, bp_matters;
};

struct walk_cache {
    uint64_t generation;
    int count[2], more[2], start[2]; /* a buffer's stack is at [start, start + count) */
    int cur;
    int learnable;   /* the last mt_unwind was a whole walk from a hook's caller, in this cache */
    uint32_t known;  /* MEMTRACE_UNWIND_CHECK: what mt_unwind_known found, to compare */
    /* When the last walk stopped at the cap: the word that said the stack goes on. */
    struct site_check beyond;
    /* One more frame than a stack can have: the one after a buffer's stack
     * has sp UINT64_MAX, which ends the search for a matching frame. */
    struct frame f[2][CACHE_FRAMES + 1];
    uint64_t pc[2][CACHE_FRAMES]; /* each frame's ip - 1: what mt_unwind hands out */
    uint64_t head; /* where the ring is written next, counted from its start */
    /* The ring first: its start shares a page with the frames above, which a
     * thread that allocates from a few places then hardly goes beyond. */
    struct site_check ring[SITE_RING];
    struct site sites[1u << SITE_SETS_BITS][SITE_WAYS];
};
/* In its own mapping, not in static TLS: that is carved from every thread's
 * stack, and a thread made with PTHREAD_STACK_MIN has 16 KiB in all. */
static __thread struct walk_cache *walks __attribute__((tls_model("initial-exec")));
static __thread int walks_gone __attribute__((tls_model("initial-exec"))); /* the thread is ending */

static uint64_t walk_generation = 1; /* bumped when code may have moved (dlclose) */

/* Forgets every stack the thread remembers; a fresh cache has no stacks to
 * clear, and clearing them would touch every page of them. */
static void walks_reset(struct walk_cache *c, uint64_t generation, int fresh) {
    if (!fresh) memset(c->sites, 0, sizeof c->sites);
    c->count[0] = c->count[1] = 0;
    c->f[0][c->start[0]].r.sp = c->f[1][c->start[1]].r.sp = UINT64_MAX;
    c->generation = generation;
}

static struct walk_cache *thread_walks(void) {
    if (MT_LIKELY(walks != NULL) || walks_gone) return walks;
    walks = mt_map(sizeof *walks);
    walks_gone = walks == NULL;
    if (walks) walks_reset(walks, __atomic_load_n(&walk_generation, __ATOMIC_RELAXED), 1);
    return walks;
}

void mt_unwind_thread_exit(void) {
    if (walks) mt_unmap(walks, sizeof *walks);
    walks = NULL;
    walks_gone = 1;
}
/* Frames taken from the previous stack carry its bp values, which were only
 * checked where bp mattered to it.  Before the walk steps on from them, or
 * judges them again with other frames beyond, they get the real ones: from
 * the matched frame's, reloaded where the walk reloaded it. */
static void refresh_bp(struct frame *f, int matched, int n) {
    uint64_t bp = f[matched].r.bp;
    for (int i = matched + 1; i < n; i++) {
        if (f[i].r.bp_slot) bp = *(const uint64_t *)(uintptr_t)f[i].r.bp_slot;
        f[i].r.bp = bp;
    }
}

/* Is the previous walk's frame `f` still on the stack as it was: its return
 * address in place, and its caller's frame pointer too where the caller's
 * frame is found through it? */
static inline int frame_holds(const struct frame *f) {
    if (*(const uint64_t *)(uintptr_t)(f->r.sp - 8) != f->r.ip) return 0;
    return !((f->rule & BP_MATTERS) && f->r.bp_slot && *(const uint64_t *)(uintptr_t)f->r.bp_slot != f->r.bp);
}

static int cached_walk(struct walk_cache *c, struct regs r, uint64_t key, int cap, int *more, const uint64_t **pcs) {
    uint64_t generation = __atomic_load_n(&walk_generation, __ATOMIC_RELAXED);
    if (MT_UNLIKELY(c->generation != generation)) walks_reset(c, generation, 0);
    struct frame *old = c->f[c->cur] + c->start[c->cur];
    uint64_t *old_raw = c->pc[c->cur] + c->start[c->cur];
    int old_n = c->count[c->cur], old_more = c->more[c->cur];
    struct frame *out = c->f[c->cur ^ 1];
    uint64_t *raw = c->pc[c->cur ^ 1];
    int in_place = 0; /* the new stack was built in the old buffer */
    int n = 0;
    const struct frame *o = old; /* the first remembered frame not below the walk */
    *more = 0;
    out[n].r = r;
    raw[n++] = r.ip - 1;
    int settled = -1; /* frames from here out have their BP_MATTERS bit right */
    for (;;) {
        int s = step(&r, key, &out[n - 1].rule);
        if (s == OUTERMOST) break;
        if (s == ASK_LIBUNWIND) return -1;
        if (n == cap) {
            *more = 1;
            c->beyond = (struct site_check){r.sp - 8, r.ip};
            break;
        }
        out[n].r = r;
        raw[n++] = r.ip - 1;
        key = r.ip - 1;

        while (o->r.sp < r.sp) o++; /* stops at the sentinel */
        if (o->r.sp == r.sp && o->r.ip == r.ip && (o->r.bp == r.bp || !(o->rule & BP_MATTERS))) {
            out[n - 1].rule = o->rule; /* same pc, same rule, same frames beyond */
            out[n - 1].hash = o->hash;
            int j = (int)(o - old), matched = n - 1, k = j + 1, end = old_n - k < cap - n ? old_n : k + (cap - n);
            const struct frame *f = &old[k], *f_end = &old[end];
            /* Two frames a turn: this loop runs over some 16 frames a walk. */
            for (; f + 1 < f_end; f += 2) {
                if (!frame_holds(f)) goto checked;
                if (!frame_holds(f + 1)) {
                    f++;
                    goto checked;
                }
            }
            if (f < f_end && frame_holds(f)) f++;
        checked:
            k = (int)(f - old);
            if (k == old_n && !old_more) {
                /* The same outermost frame: the usual case.  The new frames
                 * go into the old buffer just in front of the kept ones,
                 * which stay where they are; only when there is no room in
                 * front are they moved once, to the end of the buffer. */
                int kept = k - j - 1, start = c->start[c->cur] + j - matched;
                if (start < 0) {
                    start = CACHE_FRAMES - kept - n;
                    memmove(c->f[c->cur] + start + n, &old[j + 1], (size_t)kept * sizeof *old);
                    memmove(c->pc[c->cur] + start + n, &old_raw[j + 1], (size_t)kept * sizeof *old_raw);
                }
                c->start[c->cur] = start;
                /* a few frames: a loop costs less than calling memcpy */
                struct frame *to = c->f[c->cur] + start;
                uint64_t *to_raw = c->pc[c->cur] + start;
                for (int i = 0; i < n; i++) {
                    to[i] = out[i];
                    to_raw[i] = raw[i];
                    __asm__("" ::: "memory"); /* and stays a loop */
                }
                out = to;
                raw = to_raw;
                n += kept;
                in_place = 1;
                settled = matched;
                break;
            }
            memcpy(&out[n], &old[j + 1], (size_t)(k - j - 1) * sizeof *out);
            memcpy(&raw[n], &old_raw[j + 1], (size_t)(k - j - 1) * sizeof *raw);
            n += k - j - 1;
            refresh_bp(out, matched, n);
            if (k < old_n && n == cap) { /* agreed up to the cap, and the remembered stack went on */
                *more = 1;
                c->beyond = (struct site_check){old[k].r.sp - 8, old[k].r.ip};
                break;
            }
            /* Go on by rules from the last frame that agreed. */
            r = out[n - 1].r;
            key = r.ip - 1;
            o = &old[k];
        }
    }
    /* From the outermost frame not kept as it was, inwards: which frames'
     * registers depend on bp (a frame whose CFA is rbp-based, and any frame
     * below one that carries rbp over rather than reloading it), and the hash
     * of each frame's outer part when the walk reached the outermost frame. */
    uint64_t matters = settled >= 0 ? out[settled].rule & BP_MATTERS : *more ? BP_MATTERS : 0;
    uint64_t h = settled >= 0 ? out[settled].hash : MT_STACK_HASH_SEED;
    const int whole = !*more; /* a local: the stores below could alias *more */
    for (int i = (settled >= 0 ? settled : n) - 1; i >= 0; i--) {
        uint64_t rule = out[i].rule;
        /* (only an MT_CFI_OK rule has bits above the kind: see pack) */
        if ((int16_t)(rule >> 16) != 0) matters = 0; /* the caller's bp is reloaded */
        if (rule & 4) matters = BP_MATTERS;
        out[i].rule = (rule & ~(uint64_t)BP_MATTERS) | matters;
        if (whole) out[i].hash = h = mt_stack_hash_step(h, raw[i]);
    }
    if (!in_place) {
        c->cur ^= 1;
        c->start[c->cur] = 0;
    }
    c->count[c->cur] = n;
    c->more[c->cur] = *more;
    c->f[c->cur][c->start[c->cur] + n].r.sp = UINT64_MAX;
    *pcs = raw;
    return n;
}

static inline uint64_t site_set(uint64_t ip, uint64_t sp) {
    return ((ip ^ (sp * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull) >> (64 - SITE_SETS_BITS);
}

static uint32_t site_lookup(struct walk_cache *c, const uint64_t *entry) {
    uint64_t ip = entry[1], sp = (uint64_t)(uintptr_t)(entry + 2), bp = entry[0];
    if (MT_UNLIKELY(c->generation != __atomic_load_n(&walk_generation, __ATOMIC_RELAXED))) return 0;
    struct site *set = c->sites[site_set(ip, sp)];
    for (int w = 0; w < SITE_WAYS; w++) {
        struct site *s = &set[w];
        if (s->ip != ip || s->sp != sp || (s->bp_matters && s->bp != bp) || c->head - s->pos > SITE_RING) continue;
        const struct site_check *k = &c->ring[s->pos % SITE_RING], *end = k + s->checks;
        /* Four words a turn (a list is padded to a multiple of four). */
        for (; k < end; k += 4)
            if ((*(const uint64_t *)(uintptr_t)k[0].addr ^ k[0].value) |
                (*(const uint64_t *)(uintptr_t)k[1].addr ^ k[1].value) |
                (*(const uint64_t *)(uintptr_t)k[2].addr ^ k[2].value) |
                (*(const uint64_t *)(uintptr_t)k[3].addr ^ k[3].value))
                break;
        if (k < end) continue;
        if (w) { /* the one used last first */
            struct site hit = *s;
            memmove(&set[1], &set[0], (size_t)w * sizeof *set);
            set[0] = hit;
            return hit.stack;
        }
        return s->stack;
    }
    return 0;
}

static const uint64_t no_word; /* what a check that pads a list reads */

/* Keeps the stack of the walk just done, with its id. */
static void site_learn(struct walk_cache *c, uint32_t stack) {
    const struct frame *f = c->f[c->cur] + c->start[c->cur];
    int n = c->count[c->cur], more = c->more[c->cur], checks = more;
    for (int i = 1; i < n; i++) checks += 1 + ((f[i].rule & BP_MATTERS) && f[i].r.bp_slot);
    int padded = (checks + 3) & ~3;
    uint64_t at = c->head % SITE_RING;
    if (at + (uint64_t)padded > SITE_RING) c->head += SITE_RING - at; /* a list is never split */
    struct site *set = c->sites[site_set(f[0].r.ip, f[0].r.sp)];
    memmove(&set[1], &set[0], (SITE_WAYS - 1) * sizeof *set); /* the one used longest ago goes */
    set[0] = (struct site){.ip = f[0].r.ip, .sp = f[0].r.sp, .bp = f[0].r.bp, .pos = c->head, .stack = stack,
                           .checks = (uint16_t)padded, .bp_matters = (f[0].rule & BP_MATTERS) != 0};
    struct site_check *k = &c->ring[c->head % SITE_RING];
    for (int i = 1; i < n; i++) {
        *k++ = (struct site_check){f[i].r.sp - 8, f[i].r.ip};
        if ((f[i].rule & BP_MATTERS) && f[i].r.bp_slot) *k++ = (struct site_check){f[i].r.bp_slot, f[i].r.bp};
    }
    if (more) *k++ = c->beyond; /* a walk stopped at the cap because the stack went on */
    for (int i = checks; i < padded; i++) *k++ = (struct site_check){(uint64_t)(uintptr_t)&no_word, 0};
    c->head += (uint64_t)padded;
}

static int fast_ready;

static void fast_init(void) {
    rules = mt_map(sizeof(struct rule_slot) << RULE_BITS);
    fast_ready = rules != NULL && !mt_config.libunwind;
}

static void fast_flush(void) {
    if (!rules) return;
    mt_cfi_forget_modules();
    for (size_t i = 0; i < (1u << RULE_BITS); i++) __atomic_store_n(&rules[i].rule, 0, __ATOMIC_RELAXED);
    __atomic_add_fetch(&walk_generation, 1, __ATOMIC_RELAXED);
}

#else
static int fast_ready;
static void fast_init(void) {}
static void fast_flush(void) {}
void mt_unwind_thread_exit(void) {}
static int no_unwind_info(uint64_t key) {
    (void)key;
    return 0;
}
#endif

/* ---- MEMTRACE_UNWIND_CHECK=1: every fast walk is compared with libunwind's --
 * and every stack known by its call site with the id a walk gives it; the
 * tally is printed at exit; the tests run real programs this way. */
static int check_mode;
static uint64_t checked, differed, handed_over, known_sites;


static void check_walk(const uint64_t *raw, int n, int more, int cap) {
    /* libunwind's own fast walk: the checked walks never meet code without
     * unwind information, and a check of every walk has to be quick. */
    start_libunwind();
    void *buf[cap];
    uint64_t other[cap];
    int m = unw_backtrace(buf, cap);
    for (int i = 0; i < m; i++) other[i] = (uint64_t)(uintptr_t)buf[i] - 1;
    int sa = self_frames(raw, n), sb = self_frames(other, m);
    int na = n - sa, nb = m - sb;
    /* A walk cut at cap frames (counted from different starts: libunwind's
     * begins one call deeper) is compared on what both hold. */
    int same = (more || m == cap) ? 1 : na == nb;
    int k = na < nb ? na : nb;
    for (int i = 0; same && i < k; i++) same = raw[sa + i] == other[sb + i];
    __atomic_add_fetch(&checked, 1, __ATOMIC_RELAXED);
    if (same) return;
    if (__atomic_add_fetch(&differed, 1, __ATOMIC_RELAXED) > 3) return;
    char line[4096];
    int len = snprintf(line, sizeof line, "memtrace: a walk differs from libunwind's\n  rules:");
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
    int len = snprintf(line, sizeof line,
                       "memtrace: unwind check: %lu stacks, %lu differ, %lu handed to libunwind, %lu known by call site\n",
                       (unsigned long)checked, (unsigned long)differed, (unsigned long)handed_over,
                       (unsigned long)known_sites);
    if (write(2, line, (size_t)len) < 0) return;
}

/* ---- interface ------------------------------------------------------------- */
void mt_unwind_init(void) {
    dl_iterate_phdr(find_self, (void *)(uintptr_t)&mt_unwind_init);
    fast_init();
    check_mode = mt_config.unwind_check;
}

void mt_unwind_flush(void) {
    if (__atomic_load_n(&libunwind_started, __ATOMIC_ACQUIRE)) unw_flush_cache(unw_local_addr_space, 0, 0);
    fast_flush();
}

/* Depth of the whole stack, for stacks longer than the buffer: walked again,
 * so only when such a stack is seen for the first time. */
__attribute__((noinline)) uint32_t mt_unwind_full_depth(void) {
#if defined(__x86_64__)
    if (fast_ready) {
        enum { CHUNK = 256 };
        uint64_t raw[CHUNK];
        struct regs r;
        CURRENT_REGS(r);
        int more = 0;
        int n = rules_walk(r, r.ip, raw, CHUNK, &more);
        if (n >= 0 && !more) return (uint32_t)(n - self_frames(raw, n));
        if (n < 0) n = careful_walk(raw, CHUNK);
        if (n >= 0 && n < CHUNK) return (uint32_t)(n - self_frames(raw, n));
    }
#endif
    return mt_loader_lock_missing() ? 0 : libunwind_depth();
}

__attribute__((noinline)) int mt_unwind(uint64_t *buf, int max, int *truncated, const uint64_t **pcs, uint64_t *hash,
                                        const void *entry) {
    int cap = max + MT_UNWIND_SLACK;
    int n = -1, more = 0;
    const uint64_t *raw = buf; /* or the thread's remembered stack */
#if defined(__x86_64__)
    struct walk_cache *c = NULL;
    if (MT_LIKELY(fast_ready)) {
        struct regs r;
        uint64_t key; /* the first frame's rule is looked up by its exact pc, a caller's by its return address - 1 */
        if (entry) { /* the hook's frame: saved rbp, then the return address into its caller */
            const uint64_t *frame = entry;
            r = (struct regs){.ip = frame[1], .sp = (uint64_t)(uintptr_t)(frame + 2), .bp = frame[0],
                              .bp_slot = (uint64_t)(uintptr_t)frame};
            key = r.ip - 1;
        } else {
            CURRENT_REGS(r);
            key = r.ip;
        }
        c = cap <= CACHE_FRAMES ? thread_walks() : NULL;
        if (c) c->learnable = 0;
        n = c ? cached_walk(c, r, key, cap, &more, &raw) : rules_walk(r, key, buf, cap, &more);
    }
#else
    (void)entry;
#endif
    if (n < 0) {
        raw = buf;
#if defined(__x86_64__)
        if (fast_ready) n = careful_walk(buf, cap);
#endif
        if (n < 0) {
            if (check_mode) __atomic_add_fetch(&handed_over, 1, __ATOMIC_RELAXED);
            /* libunwind walks the module list with the loader's lock, which a
             * child forked in the middle of a walk finds held for ever
             * (modules.c): there the stack is left unknown. */
            n = mt_loader_lock_missing() ? 0 : libunwind_walk(buf, cap);
        }
        more = n == cap;
    } else if (MT_UNLIKELY(check_mode)) {
        check_walk(raw, n, more, cap);
    }
    int skip = self_frames(raw, n);
    *pcs = raw + skip;
    *truncated = more || n - skip > max;
    *hash = 0;
#if defined(__x86_64__)
    if (raw != buf) {
        if (!*truncated) *hash = mt_stack_hash_finish(c->f[c->cur][c->start[c->cur] + skip].hash, (uint32_t)(n - skip));
        c->learnable = entry && skip == 0 && n > 0;
    }
#endif
    /* The kept hash must be the one interning would compute. */
    if (MT_UNLIKELY(check_mode) && *hash && mt_stack_hash(raw + skip, (uint32_t)(n - skip)) != *hash)
        __atomic_add_fetch(&differed, 1, __ATOMIC_RELAXED);
    return n - skip < max ? n - skip : max;
}

uint32_t mt_unwind_known(const void *entry) {
#if defined(__x86_64__)
    struct walk_cache *c = walks;
    if (MT_UNLIKELY(c == NULL) || !entry) return 0;
    uint32_t stack = site_lookup(c, entry);
    if (MT_UNLIKELY(check_mode)) { /* walked and interned all the same, and compared in mt_unwind_learn */
        c->known = stack;
        return 0;
    }
    return stack;
#else
    (void)entry;
    return 0;
#endif
}

void mt_unwind_learn(uint32_t stack) {
#if defined(__x86_64__)
    struct walk_cache *c = walks;
    if (MT_UNLIKELY(c == NULL)) return;
    if (MT_UNLIKELY(check_mode) && c->known) {
        __atomic_add_fetch(&known_sites, 1, __ATOMIC_RELAXED);
        if (c->known != stack && __atomic_add_fetch(&differed, 1, __ATOMIC_RELAXED) <= 3) {
            static const char line[] = "memtrace: a known call site's stack differs from its walk\n";
            if (write(2, line, sizeof line - 1) < 0) return;
        }
        c->known = 0;
    }
    if (c->learnable && stack) site_learn(c, stack);
    c->learnable = 0;
#else
    (void)stack;
#endif
}
