/*
 * The snapshot writer: docs/snapshot-format.md, format.h.
 *
 * Written with write(2) only, through a buffer in mmap'd memory: no stdio, no
 * malloc.  The file is created next to its final name with O_EXCL|O_NOFOLLOW
 * and mode 0600, then renamed over it, so a reader sees either the previous
 * file or the complete new one, and a symlink planted at the temporary name is
 * never followed.
 *
 * Consistency: the writer holds every live-table shard lock and every stack
 * index lock while it reads the tables, so counts, stacks and blocks describe
 * one moment.  Anything that may take other locks (dl_iterate_phdr takes the
 * loader lock, mallctl and mallinfo2 take allocator locks) happens before,
 * because a thread holding one of those may be waiting for a shard lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h> /* rename(2) only: no stream is ever used */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format.h"
#include "tracer.h"

_Static_assert((int)MT_KIND_MALLOC == MT_ALLOCATED_BY_MALLOC && (int)MT_KIND_NEW == MT_ALLOCATED_BY_NEW &&
                   (int)MT_KIND_NEW_ARRAY == MT_ALLOCATED_BY_NEW_ARRAY,
               "allocation kinds as on disk");
_Static_assert((int)MT_RELEASE_FREE == MT_RELEASED_BY_FREE && (int)MT_RELEASE_DELETE == MT_RELEASED_BY_DELETE &&
                   (int)MT_RELEASE_DELETE_ARRAY == MT_RELEASED_BY_DELETE_ARRAY &&
                   (int)MT_RELEASE_REALLOC == MT_RELEASED_BY_REALLOC,
               "releases as on disk");

/* Not a pthread mutex: glibc takes and releases one without atomics or a
 * wake-up while __libc_single_threaded is set, which it stays in a program of
 * one thread while the helper, which writes snapshots too, runs (control.c).
 * Taken again by the thread that holds it, it counts: exec holds it while it
 * runs (control.c), and a signal handler that interrupts the exec may write
 * a snapshot, fork or exec on that thread. */
static mt_lock_t snapshot_lock;
static __thread int snapshot_depth __attribute__((tls_model("initial-exec")));
static uint64_t sequence;

void mt_snapshot_lock(void) {
    if (snapshot_depth++ == 0) mt_lock(&snapshot_lock);
}

void mt_snapshot_unlock(void) {
    if (--snapshot_depth == 0) mt_unlock(&snapshot_lock);
}

void mt_snapshot_after_fork_child(void) { /* the child's thread holds it, maybe more than once */
    snapshot_depth = 0;
    mt_unlock(&snapshot_lock);
    sequence = 0;
}

/* ---- buffered writer with a running checksum -------------------------------- */
struct writer {
    int fd;
    int err;
    uint64_t hash;   /* END's checksum of the bytes already flushed (format.h) */
    uint64_t hashed; /* how many */
    size_t len;
    uint8_t buf[1 << 16];
};

static inline uint64_t sum_step(uint64_t h, uint64_t w) {
    h = (h ^ w) * MT_SUM_MUL;
    return h << MT_SUM_ROT | h >> (64 - MT_SUM_ROT);
}

/* Adds `n` bytes to the checksum: a multiple of eight but for the file's last. */
static void sum_bytes(struct writer *w, const uint8_t *p, size_t n) {
    uint64_t h = w->hash, v;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) memcpy(&v, p + i, 8), h = sum_step(h, v);
    if (i < n) v = 0, memcpy(&v, p + i, n - i), h = sum_step(h, v);
    w->hash = h;
    w->hashed += n;
}

static void flush(struct writer *w) {
    size_t off = 0;
    while (off < w->len && !w->err) {
        ssize_t n = write(w->fd, w->buf + off, w->len - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            w->err = errno;
        } else if (n == 0) {
            w->err = EIO;
        } else {
            off += (size_t)n;
        }
    }
    w->len = 0;
}

static void put(struct writer *w, const void *data, size_t n) {
    const uint8_t *p = data;
    while (n > 0) {
        if (w->len == sizeof w->buf) sum_bytes(w, w->buf, w->len), flush(w);
        size_t room = sizeof w->buf - w->len;
        size_t k = n < room ? n : room;
        memcpy(w->buf + w->len, p, k);
        w->len += k;
        p += k;
        n -= k;
    }
}

static void put_u32(struct writer *w, uint32_t v) { put(w, &v, 4); }
static void put_u64(struct writer *w, uint64_t v) { put(w, &v, 8); }

static void section(struct writer *w, uint32_t tag, uint64_t length) {
    struct mt_section_header h = {.tag = tag, .reserved = 0, .length = length};
    put(w, &h, sizeof h);
}

/* ---- file names --------------------------------------------------------------- */
static void append(char *out, size_t cap, size_t *len, const char *s) {
    while (*s && *len + 1 < cap) out[(*len)++] = *s++;
    out[*len] = 0;
}

static void append_u64(char *out, size_t cap, size_t *len, uint64_t v) {
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n > 0 && *len + 1 < cap) out[(*len)++] = digits[--n];
    out[*len] = 0;
}

/* FINAL.tmp.PID, with as much of FINAL's last component as fits a name
 * (NAME_MAX): a snapshot name near that length must not fail for its
 * temporary's.  Unique all the same: one process writes one snapshot at a
 * time, and the temporary is gone before the next. */
static void temporary_name(char *out, size_t cap, const char *final) {
    char suffix[32];
    size_t slen = 0, flen = strlen(final);
    append(suffix, sizeof suffix, &slen, ".tmp.");
    append_u64(suffix, sizeof suffix, &slen, (uint64_t)getpid());
    const char *slash = strrchr(final, '/');
    size_t start = slash ? (size_t)(slash - final) + 1 : 0;
    size_t keep = flen - start + slen > NAME_MAX ? NAME_MAX - slen : flen - start;
    size_t len = start + keep < cap ? start + keep : cap - 1;
    memcpy(out, final, len);
    out[len] = 0;
    append(out, cap, &len, suffix);
}

/* Expands %p (pid), %n (sequence), %e (executable name), %h (host name: a
 * container's own, where every main process is pid 1) and %% in the pattern. */
static void expand(char *out, size_t cap, const char *pattern, uint64_t seq) {
    size_t len = 0;
    out[0] = 0;
    for (const char *p = pattern; *p && len + 1 < cap; p++) {
        if (*p != '%' || !p[1]) {
            out[len++] = *p;
            out[len] = 0;
            continue;
        }
        p++;
        if (*p == 'p') append_u64(out, cap, &len, (uint64_t)getpid());
        else if (*p == 'n') append_u64(out, cap, &len, seq);
        else if (*p == 'e') {
            const char *base = strrchr(mt_config.exe, '/');
            append(out, cap, &len, base ? base + 1 : mt_config.exe);
        } else if (*p == 'h') {
            char host[HOST_NAME_MAX + 1];
            if (gethostname(host, sizeof host) != 0) host[0] = 0;
            host[HOST_NAME_MAX] = 0;
            for (char *c = host; *c; c++)
                if (*c == '/') *c = '_'; /* the kernel takes any bytes for a name */
            append(out, cap, &len, host);
        } else {
            char c[2] = {*p == '%' ? '%' : *p, 0};
            append(out, cap, &len, c);
        }
    }
}

/* ---- the snapshot ----------------------------------------------------------------- */
#define PREFETCH_AHEAD 16
static inline void prefetch_header(const struct mt_live *e) { __builtin_prefetch((const char *)(uintptr_t)e->ptr - 8); }
static struct writer *writer_storage;
static struct mt_timeline_point *timeline_storage;

static uint64_t strings_size(const char *k, size_t vlen) { return 8 + strlen(k) + vlen; }

/* A live block in the totals; `usable`: what the allocator gave it. */
static void count_block(struct mt_totals *t, const struct mt_live *e, size_t usable) {
    /* In sampled mode each recorded block stands for `count` blocks. */
    int64_t bytes, count;
    mt_sample_weights(e->size, e->ptr, &bytes, &count);
    t->live_bytes += (uint64_t)bytes;
    t->live_blocks += (uint64_t)count;
    t->live_usable_bytes +=
        mt_sample_rate && e->size ? (uint64_t)((double)usable * (double)bytes / (double)e->size) : usable;
}

static struct mt_block block_of(const struct mt_live *e, int leaks) {
    uint32_t flags = (e->flags & MT_SLOT_IGNORED) | (leaks ? mt_leak_kind(e->ptr) << 1 : 0);
    return (struct mt_block){.address = e->ptr, .size = e->size, .stack = e->stack, .flags = flags};
}

/* The first pass's count of the blocks, and their BLOCKS entries when they
 * are kept for writing once the locks are released (`held`, else NULL). */
struct first_pass {
    struct mt_totals *t;
    uint64_t blocks;
    struct mt_block *held;
    int leaks; /* the scan's verdicts go into the entries */
};

static void first_pass_block(struct first_pass *pass, const struct mt_live *e, size_t usable) {
    count_block(pass->t, e, usable);
    if (pass->held) pass->held[pass->blocks] = block_of(e, pass->leaks);
    pass->blocks++;
}

static void count_in_block(const struct mt_live *e, size_t usable, void *ctx) { first_pass_block(ctx, e, usable); }

/* BLOCKS written under the locks, when the entries could not be kept. */
struct second_pass {
    struct writer *w;
    int leaks;
};

static void put_block(const struct mt_live *e, size_t usable, void *ctx) {
    (void)usable;
    const struct second_pass *pass = ctx;
    struct mt_block b = block_of(e, pass->leaks);
    put(pass->w, &b, sizeof b);
}

static int write_snapshot(int fd, int trigger, uint64_t seq, struct mt_buf *modules, uint32_t module_count,
                          struct mt_buf *alloc, int read_before, const struct mt_timeline_point *timeline, uint32_t timeline_count,
                          const struct mt_buf *leak_roots) {
    (void)module_count;
    struct writer *w = writer_storage;
    w->fd = fd;
    w->err = 0;
    w->len = 0;
    w->hash = MT_SUM_SEED;
    w->hashed = 0;

    static char cwd[4096]; /* under the snapshot lock, off a small stack (take) */
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = 0;

    /* Records kept in the blocks are read where they are (the leak scan
     * gathers them with the table's into an array of its own). */
    mt_live_lock_all_unmoved();
    mt_stacks_lock_all();
    /* The allocator's statistics while the live table cannot change, so
     * that the two agree, unless the program's thread read them a moment
     * before (`read_before`, mt_snapshot).  Not while a thread waits in the
     * termination handler or in _exit, maybe holding the allocator's locks:
     * an ALLOCATOR section of kind unknown then, as when the program's
     * thread did not read them in time. */
    static const uint32_t unknown_allocator[2] = {MT_ALLOCATOR_UNKNOWN, 0};
    const void *alloc_data = unknown_allocator;
    uint64_t alloc_len = sizeof unknown_allocator;
    int have = read_before > 0 || (read_before == 0 && !mt_signal_ending && mt_allocator_read(alloc, NULL, NULL));
    if (have && !alloc->failed) {
        alloc_data = alloc->data;
        alloc_len = alloc->len;
    }
    int leaks = leak_roots && mt_leaks_scan(leak_roots) == 0;

    /* First pass: everything the header and section lengths need. */
    struct mt_totals t;
    memset(&t, 0, sizeof t);
    /* The blocks' entries are kept as the first pass meets them, and BLOCKS
     * is written from them once the locks are released: the program waits
     * for one pass over its blocks, not two and the writing (24 bytes a
     * block, for the moment of the snapshot; a snapshot that cannot have
     * them makes the second pass). */
    struct first_pass pass = {&t, 0, NULL, leaks};
    size_t held_size = 0;
    if (mt_config.blocks) {
        uint64_t most = 0;
        for (int i = 0; i < MT_SHARDS; i++) most += mt_shards[i].count + mt_shards[i].in_blocks;
        held_size = ((size_t)most * sizeof(struct mt_block) + 4095) & ~(size_t)4095;
        pass.held = held_size ? mt_map(held_size) : NULL;
        if (!pass.held) held_size = 0;
    }
    mt_inblock_each(count_in_block, &pass); /* first: a record that fails its check moves into the table here */
    for (int i = 0; i < MT_SHARDS; i++) {
        struct mt_shard *sh = &mt_shards[i];
        t.alloc_calls += sh->alloc_calls;
        t.free_calls += sh->free_calls;
        t.realloc_calls += sh->realloc_calls;
        t.total_alloc_bytes += sh->alloc_bytes;
        t.untracked_frees += sh->untracked_frees;
        /* Each block's usable size is a read of its header: a cache miss
         * nearly every time, so those of the next blocks are on their way
         * while this one is counted (2M blocks: 150 ms to 40 ms). */
        struct mt_live_cursor c = {0, 0};
        struct mt_live ahead[PREFETCH_AHEAD];
        unsigned have = 0, at = 0;
        while (have < PREFETCH_AHEAD && mt_live_next(sh, &c, &ahead[have])) prefetch_header(&ahead[have++]);
        for (; have; at = (at + 1) % PREFETCH_AHEAD) {
            struct mt_live block = ahead[at];
            if (mt_live_next(sh, &c, &ahead[at])) prefetch_header(&ahead[at]);
            else have--;
            first_pass_block(&pass, &block, mt_real_usable_size((void *)(uintptr_t)block.ptr));
        }
    }
    uint64_t record_count = pass.blocks; /* every live block, or the sampled ones */
    uint32_t nstacks = mt_stack_count();
    size_t stats_size = ((size_t)nstacks * sizeof(struct mt_tstat) + 4095) & ~(size_t)4095;
    size_t temps_size = ((size_t)nstacks * sizeof(struct mt_ttemp) + 4095) & ~(size_t)4095;
    struct mt_tstat *stats = mt_map(stats_size);
    struct mt_ttemp *temps = stats ? mt_map(temps_size) : NULL;
    if (!temps) {
        if (stats) mt_unmap(stats, stats_size);
        mt_stacks_unlock_all();
        mt_live_unlock_all();
        return ENOMEM;
    }
    mt_tstats_sum(stats, temps, nstacks);
    uint64_t size_count[MT_SIZE_CLASSES] = {0}, size_bytes[MT_SIZE_CLASSES] = {0};
    mt_tstats_sizes(size_count, size_bytes);
    uint32_t size_classes = MT_SIZE_CLASSES;
    while (size_classes && !size_count[size_classes - 1]) size_classes--;
    const int counts_temporary = !mt_sample_rate;
    uint64_t stacks_len = 8, stat_count = 0, temp_count = 0;
    for (uint32_t id = 0; id < nstacks; id++) {
        struct mt_stack *s = mt_stack_get(id);
        stacks_len += 8 + 8ull * s->depth;
        if (stats[id].total_count) stat_count++;
        if (temps[id].count) temp_count++;
        if (s->true_depth > s->depth) t.truncated_stacks++;
    }
    /* With several threads the running peak may miss their unpublished
     * changes; it is never below what is live now. */
    uint64_t current = mt_tstats_current();
    t.peak_bytes = mt_global.peak > current ? mt_global.peak : current;
    t.peak_time_ns = mt_global.peak_time_ns;
    t.tracer_overhead_bytes = __atomic_load_n(&mt_mapped_bytes, __ATOMIC_RELAXED) - held_size + mt_stacks_overhead() +
                              mt_inblock_resident_bytes();
    t.sample_rate = mt_sample_rate;
    t.stack_count = nstacks;
    t.lost_allocations = __atomic_load_n(&mt_lost_allocations, __ATOMIC_RELAXED);
    t.overrun_blocks = __atomic_load_n(&mt_overrun_blocks, __ATOMIC_RELAXED); /* mt_live_lock_all counted the live ones */

    /* Header. */
    struct mt_file_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, MT_MAGIC, 8);
    h.version = MT_FORMAT_VERSION;
    h.header_size = sizeof h;
    h.flags = (mt_config.blocks ? MT_FLAG_HAS_BLOCKS : 0) | (mt_sample_rate ? MT_FLAG_SAMPLED : 0) |
              (leaks && mt_config.blocks ? MT_LEAK_SCAN_FLAG : 0);
    h.frames_limit = (uint32_t)mt_config.frames;
    h.pid = (uint32_t)getpid();
    h.ppid = (uint32_t)getppid();
    h.start_time_ns = mt_config.start_time_ns;
    h.snapshot_time_ns = mt_now_ns();
    h.sequence = seq;
    h.trigger = (uint32_t)trigger;
    uint32_t overrun_sites = 0;
    while (overrun_sites < MT_OVERRUN_SITES && mt_overrun_sites[overrun_sites].stack_plus_one) overrun_sites++;
    /* Claimed without a lock (checks.c): copied once, the sites still empty
     * of blocks left out; their stacks were interned before they were. */
    struct mt_mismatch mismatches[MT_MISMATCH_SITES];
    uint32_t mismatch_sites = 0;
    for (int i = 0; i < MT_MISMATCH_SITES; i++) {
        uint64_t key = __atomic_load_n(&mt_mismatch_sites[i].key, __ATOMIC_RELAXED);
        uint64_t count = __atomic_load_n(&mt_mismatch_sites[i].count, __ATOMIC_RELAXED);
        struct mt_mismatch m = {.alloc_stack = mt_mismatch_alloc_stack(key),
                                .release_stack = mt_mismatch_release_stack(key),
                                .allocated_by = mt_mismatch_kind(key),
                                .released_by = mt_mismatch_how(key),
                                .count = count,
                                .bytes = __atomic_load_n(&mt_mismatch_sites[i].bytes, __ATOMIC_RELAXED),
                                .named_size = __atomic_load_n(&mt_mismatch_sites[i].named_size, __ATOMIC_RELAXED)};
        if (key && count && m.alloc_stack < nstacks && m.release_stack < nstacks) mismatches[mismatch_sites++] = m;
    }
    t.mismatch_blocks = __atomic_load_n(&mt_mismatch_blocks, __ATOMIC_RELAXED);
    h.section_count = 8 + (mt_config.blocks ? 1 : 0) + (counts_temporary ? 1 : 0) + (overrun_sites ? 1 : 0) +
                      (mismatch_sites ? 1 : 0) + (size_classes ? 1 : 0);
    put(w, &h, sizeof h);

    /* PROCESS */
    size_t cwd_len = strlen(cwd), exe_len = strlen(mt_config.exe), out_len = strlen(mt_config.output);
    /* PROCESS "signal" names the signal that ended the program, "exit" the
     * function that did (_exit: no exit handler ran). */
    const char *ended_key = NULL, *ended_by = NULL;
    if (trigger == MT_TRIGGER_TERMINATION) ended_key = "signal", ended_by = mt_signal_name(mt_signal_ending);
    else if (trigger == MT_TRIGGER_EXIT && mt_signal_ending == MT_ENDING_EXIT) ended_key = "exit", ended_by = "_exit";
    size_t ended_by_len = ended_by ? strlen(ended_by) : 0, ended_key_len = ended_key ? strlen(ended_key) : 0;
    size_t own_len = strlen(mt_config.own_malloc); /* "own_malloc": the module whose malloc comes first */
    /* "allocator": the module the tracer forwards to, when it is not glibc's */
    size_t allocator_len = mt_allocator_is_glibc() ? 0 : strlen(mt_allocator_module);
    section(w, MT_SECTION_PROCESS,
            4 + strings_size("exe", exe_len) + strings_size("cmdline", mt_config.cmdline_len) +
                strings_size("cwd", cwd_len) + strings_size("output", out_len) +
                (ended_by ? strings_size(ended_key, ended_by_len) : 0) +
                (own_len ? strings_size("own_malloc", own_len) : 0) +
                (allocator_len ? strings_size("allocator", allocator_len) : 0));
    put_u32(w, 4 + (ended_by ? 1 : 0) + (own_len ? 1 : 0) + (allocator_len ? 1 : 0));
    put_u32(w, 3), put(w, "exe", 3), put_u32(w, (uint32_t)exe_len), put(w, mt_config.exe, exe_len);
    put_u32(w, 7), put(w, "cmdline", 7), put_u32(w, (uint32_t)mt_config.cmdline_len);
    put(w, mt_config.cmdline ? mt_config.cmdline : "", mt_config.cmdline_len);
    put_u32(w, 3), put(w, "cwd", 3), put_u32(w, (uint32_t)cwd_len), put(w, cwd, cwd_len);
    put_u32(w, 6), put(w, "output", 6), put_u32(w, (uint32_t)out_len), put(w, mt_config.output, out_len);
    if (ended_by) {
        put_u32(w, (uint32_t)ended_key_len), put(w, ended_key, ended_key_len);
        put_u32(w, (uint32_t)ended_by_len), put(w, ended_by, ended_by_len);
    }
    if (own_len) {
        put_u32(w, 10), put(w, "own_malloc", 10);
        put_u32(w, (uint32_t)own_len), put(w, mt_config.own_malloc, own_len);
    }
    if (allocator_len) {
        put_u32(w, 9), put(w, "allocator", 9);
        put_u32(w, (uint32_t)allocator_len), put(w, mt_allocator_module, allocator_len);
    }

    /* TOTALS */
    section(w, MT_SECTION_TOTALS, sizeof t);
    put(w, &t, sizeof t);

    /* MODULES */
    section(w, MT_SECTION_MODULES, modules->len);
    put(w, modules->data, modules->len);

    /* STACKS */
    section(w, MT_SECTION_STACKS, stacks_len);
    put_u32(w, nstacks);
    put_u32(w, 0);
    for (uint32_t id = 0; id < nstacks; id++) {
        struct mt_stack *s = mt_stack_get(id);
        struct mt_stack_header sh = {.depth = s->depth, .true_depth = s->true_depth};
        put(w, &sh, sizeof sh);
        put(w, mt_stack_frames(s), 8ull * s->depth);
    }

    /* STACK_STATS */
    section(w, MT_SECTION_STACK_STATS, 8 + stat_count * sizeof(struct mt_stack_stat));
    put_u32(w, (uint32_t)stat_count);
    put_u32(w, 0);
    for (uint32_t id = 0; id < nstacks; id++) {
        const struct mt_tstat *s = &stats[id];
        if (!s->total_count) continue;
        struct mt_stack_stat st = {
            .stack = id,
            .live_bytes = (uint64_t)s->live_bytes,
            .live_count = (uint64_t)s->live_count,
            .total_bytes = (uint64_t)s->total_bytes,
            .total_count = (uint64_t)s->total_count,
            .peak_bytes = (uint64_t)s->peak_bytes,
            .peak_count = (uint64_t)s->peak_count,
        };
        put(w, &st, sizeof st);
    }
    mt_unmap(stats, stats_size);

    /* TEMPORARY */
    if (counts_temporary) {
        section(w, MT_SECTION_TEMPORARY, 8 + temp_count * sizeof(struct mt_stack_figures));
        put_u32(w, (uint32_t)temp_count);
        put_u32(w, 0);
        for (uint32_t id = 0; id < nstacks; id++) {
            if (!temps[id].count) continue;
            struct mt_stack_figures st = {
                .stack = id, .count = (uint64_t)temps[id].count, .bytes = (uint64_t)temps[id].bytes};
            put(w, &st, sizeof st);
        }
    }
    mt_unmap(temps, temps_size);

    /* OVERRUNS (with every lock held, so no site changes meanwhile) */
    if (overrun_sites) {
        section(w, MT_SECTION_OVERRUNS, 8 + overrun_sites * sizeof(struct mt_stack_figures));
        put_u32(w, overrun_sites);
        put_u32(w, 0);
        for (uint32_t i = 0; i < overrun_sites; i++) {
            struct mt_stack_figures st = {.stack = mt_overrun_sites[i].stack_plus_one - 1,
                                         .count = mt_overrun_sites[i].count,
                                         .bytes = mt_overrun_sites[i].bytes};
            put(w, &st, sizeof st);
        }
    }

    /* MISMATCHES */
    if (mismatch_sites) {
        section(w, MT_SECTION_MISMATCHES, 8 + mismatch_sites * sizeof(struct mt_mismatch));
        put_u32(w, mismatch_sites);
        put_u32(w, 0);
        put(w, mismatches, mismatch_sites * sizeof(struct mt_mismatch));
    }

    /* SIZES */
    if (size_classes) {
        section(w, MT_SECTION_SIZES, 8 + size_classes * sizeof(struct mt_size_class));
        put_u32(w, size_classes);
        put_u32(w, 0);
        for (uint32_t c = 0; c < size_classes; c++) {
            struct mt_size_class sc = {.count = size_count[c], .bytes = size_bytes[c]};
            put(w, &sc, sizeof sc);
        }
    }

    /* BLOCKS */
    if (mt_config.blocks) {
        section(w, MT_SECTION_BLOCKS, 8 + record_count * sizeof(struct mt_block));
        put_u64(w, record_count);
    }
    if (!pass.held && mt_config.blocks) {
        struct second_pass second = {w, leaks};
        mt_inblock_each(put_block, &second);
        for (int i = 0; i < MT_SHARDS; i++) {
            struct mt_live_cursor c = {0, 0};
            struct mt_live block;
            while (mt_live_next(&mt_shards[i], &c, &block)) put_block(&block, 0, &second);
        }
    }
    if (leak_roots) mt_leaks_release();
    mt_stacks_unlock_all();
    mt_live_unlock_all();
    if (pass.held) {
        put(w, pass.held, record_count * sizeof(struct mt_block));
        mt_unmap(pass.held, held_size);
    }

    /* ALLOCATOR */
    section(w, MT_SECTION_ALLOCATOR, alloc_len);
    put(w, alloc_data, alloc_len);

    /* TIMELINE: the points held, and one for now. */
    section(w, MT_SECTION_TIMELINE, 8 + (uint64_t)(timeline_count + 1) * sizeof(struct mt_timeline_point));
    put_u32(w, timeline_count + 1);
    put_u32(w, 0);
    put(w, timeline, timeline_count * sizeof(struct mt_timeline_point));
    struct mt_timeline_point last;
    mt_timeline_now(&last);
    last.time_ns = h.snapshot_time_ns; /* the moment of its figures, not the end of the write */
    last.current_bytes = current; /* exact, where the helper's points go by the published total */
    last.peak_bytes = t.peak_bytes;
    put(w, &last, sizeof last);

    /* END */
    sum_bytes(w, w->buf, w->len);
    flush(w);
    uint64_t sum = sum_step(w->hash, w->hashed);
    section(w, MT_SECTION_END, 8);
    put_u64(w, sum);
    flush(w);
    return w->err;
}

static int take(const char *path, int trigger, int leaks);

int mt_snapshot(const char *path, int trigger) { return take(path, trigger, 0); }
int mt_snapshot_with_leaks(const char *path, int trigger) { return take(path, trigger, 1); }

static int take(const char *path, int trigger, int leaks) {
    if (!mt_enabled) {
        errno = ENOSYS;
        return -1;
    }
    mt_guard++;
    int saved = errno;
    /* Not ended half-way by pthread_cancel at the open, write or close below:
     * the lock would stay taken for good, and the next snapshot wait for ever. */
    int cancel_state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    /* What needs the loader's lock is read before the snapshot's: a program
     * thread holding the loader's lock (its dl_iterate_phdr callback) may be
     * waiting for one that forks, and the fork waits for the snapshot lock. */
    struct mt_buf modules = {0}, alloc = {0}, roots = {0};
    uint32_t module_count = 0;
    int walked_here = mt_signal_ending || mt_allocator_stats_safe();
    if (walked_here) module_count = mt_modules_collect(&modules);
    if (mt_signal_ending) mt_signals_modules_read();
    if (leaks) mt_leaks_prepare(&roots);
    mt_snapshot_lock();
    if (!writer_storage) writer_storage = mt_map(sizeof *writer_storage);
    if (!timeline_storage) timeline_storage = mt_map(MT_TIMELINE_POINTS * sizeof *timeline_storage);
    int err = 0;
    /* Not on the stack: a thread of a 16 KiB stack that calls exit() writes
     * the exit snapshot, and take()'s frame alone had been 16 KiB (SIGSEGV).
     * Used under the snapshot lock, as the writer is. */
    static char final[4096], tmp[4200];
    uint64_t seq = sequence;
    if (path) {
        size_t n = 0;
        final[0] = 0;
        append(final, sizeof final, &n, path);
    } else {
        expand(final, sizeof final, mt_config.output, seq);
    }
    temporary_name(tmp, sizeof tmp, final);

    /* A program that glibc runs as one thread reads the allocator's
     * statistics and the module list itself, at its next record (control.c):
     * asked before the live table is locked, so that it goes on at once
     * (waiting for a snapshot under way had cost one that allocates every
     * millisecond most of its time, at a 2 ms interval).  The list comes
     * from the loader, whose lock glibc then takes without atomics: read on
     * the helper as well, it hung programs that walk or load modules
     * themselves (dl_iterate_phdr, dlopen).  When the program does not
     * answer in time, the list read last.  1 read, -1 not in time, 0 later. */
    int read_before = 0;
    if (!walked_here) {
        read_before = mt_allocator_read(&alloc, &modules, &module_count) ? 1 : -1;
        if (read_before < 0) module_count = mt_modules_last(&modules);
    }
    if (read_before >= 0) mt_modules_keep(&modules, module_count);

    if (!writer_storage || !timeline_storage || modules.failed || roots.failed) {
        err = ENOMEM;
    } else {
        /* Past the program's RLIMIT_FSIZE a write fails with EFBIG rather than end the program. */
        struct mt_held_signal fsize;
        mt_hold_signal(&fsize, SIGXFSZ);
        struct stat existing;
        int into = 0, follow = 0;
        /* Under /dev and /proc (but /dev/shm) nothing is ever created or
         * renamed over: /dev/stdout, /dev/fd/2, /proc/self/fd/1 are links the
         * system keeps to a descriptor, followed and written into (where the
         * program closed that descriptor, as `echo` does at exit, refused),
         * and /dev/null is a device.  Renamed over, they had become regular
         * files, for every program on the machine. */
        int system_path = (strncmp(final, "/dev/", 5) == 0 && strncmp(final, "/dev/shm/", 9) != 0) ||
                          strncmp(final, "/proc/", 6) == 0;
        if (system_path) {
            if (stat(final, &existing) != 0) err = errno;
            else if (S_ISDIR(existing.st_mode)) err = EISDIR;
            else into = follow = 1;
        } else if (lstat(final, &existing) == 0 && !S_ISREG(existing.st_mode) && !S_ISLNK(existing.st_mode)) {
            /* A device or a pipe elsewhere is written into too; anything else that is not a
             * regular file (a socket, a directory) refused. */
            into = S_ISCHR(existing.st_mode) || S_ISFIFO(existing.st_mode);
            if (!into) err = S_ISDIR(existing.st_mode) ? EISDIR : EEXIST;
        }
        int fd = err ? -1
                 : into ? mt_open(final,
                                  O_WRONLY | (follow ? 0 : O_NOFOLLOW) | O_NONBLOCK |
                                      (S_ISREG(existing.st_mode) ? O_APPEND : 0), /* after the program's own output */
                                  0)
                        : mt_open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
        if (!err && !into && fd < 0 && errno == EEXIST) { /* a stale file from a crashed writer with our pid */
            unlink(tmp);
            fd = mt_open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
        }
        if (into && fd >= 0) {
            int flags = fcntl(fd, F_GETFL);
            if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK); /* a pipe's reader is there: wait for it */
        }
        if (err) {
        } else if (fd < 0) {
            err = errno;
        } else {
            /* 0600 whatever the program's umask: a umask of 0777 left a file nobody could read.
             * A file system without permissions (vfat: EPERM) keeps its own. */
            if (!into && fchmod(fd, 0600) != 0 && errno != EPERM && errno != EOPNOTSUPP && errno != EROFS)
                err = errno;
            if (!err)
                err = write_snapshot(fd, trigger, seq, &modules, module_count, &alloc, read_before, timeline_storage,
                                     mt_timeline_copy(timeline_storage, MT_TIMELINE_POINTS), leaks ? &roots : NULL);
            if (close(fd) != 0 && !err) err = errno;
            if (!into && !err && rename(tmp, final) != 0) err = errno;
            if (!into && err) unlink(tmp);
        }
        mt_release_signal(&fsize, err == EFBIG);
    }
    mt_buf_free(&modules);
    mt_buf_free(&alloc);
    mt_buf_free(&roots);
    if (!err) sequence++;
    if (err) mt_warn("cannot write snapshot", final, err); /* `final` is the lock's */
    mt_snapshot_unlock();
    pthread_setcancelstate(cancel_state, NULL);
    errno = err ? err : saved;
    mt_leave();
    return err ? -1 : 0;
}
