/*
 * Leak checks a test can run from inside the program (memtrace.h):
 *
 *   region      everything allocated between memtrace_region_begin() and
 *               memtrace_region_end() and still live at the end is reported,
 *               and its size returned (gperftools' HeapLeakChecker::NoLeaks,
 *               valgrind's VALGRIND_DO_ADDED_LEAK_CHECK);
 *   ignore      a block the program keeps on purpose is never reported
 *               (LSan's __lsan_ignore_object);
 *   disable     allocations of this thread are not recorded until enabled
 *               again (LSan's __lsan_disable);
 *   growth      runs a body K times after a warm-up and reports the stacks
 *               whose live bytes grew in every iteration, so caches that fill
 *               once do not count as leaks.
 *
 * Reports go to standard error, one block of lines per site, with the
 * function names the dynamic symbol tables know (dladdr); `memtrace` gives
 * full symbols from a snapshot.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tracer.h"

__thread int mt_paused __attribute__((tls_model("initial-exec")));
#define MAX_CHECKED_STACKS (1u << 21)
volatile int mt_region_active;
volatile uintptr_t mt_region_owner;

/* ---- reporting ------------------------------------------------------------------- */

static void print_stack(uint32_t id) {
    struct mt_stack *s = mt_stack_get(id);
    const uint64_t *pcs = mt_stack_frames(s);
    char line[512];
    for (uint32_t i = 0, shown = 0; i < s->depth && shown < 12; i++) {
        if (mt_is_self_address(pcs[i])) continue; /* the check's own frames */
        shown++;
        Dl_info info;
        memset(&info, 0, sizeof info);
        const char *module = "?", *function = NULL;
        uint64_t offset = 0;
        if (dladdr((void *)(uintptr_t)pcs[i], &info)) {
            module = info.dli_fname ? info.dli_fname : "?";
            function = info.dli_sname;
            offset = pcs[i] - (uint64_t)(uintptr_t)(info.dli_saddr ? info.dli_saddr : info.dli_fbase);
        }
        if (function)
            snprintf(line, sizeof line, "        #%u 0x%llx in %s+0x%llx (%s)\n", shown - 1, (unsigned long long)pcs[i],
                     function, (unsigned long long)offset, module);
        else
            snprintf(line, sizeof line, "        #%u 0x%llx (%s+0x%llx)\n", shown - 1, (unsigned long long)pcs[i], module,
                     (unsigned long long)offset);
        mt_say(line);
    }
}

/* The stacks of the overruns found since `before` (each site's count then; NULL:
 * since the start), the first four, under a heading already said. */
static void print_overrun_sites(const uint64_t *before) {
    for (int i = 0, shown = 0; i < MT_OVERRUN_SITES && shown < 4; i++) {
        uint32_t id = __atomic_load_n(&mt_overrun_sites[i].stack_plus_one, __ATOMIC_RELAXED);
        if (!id) break; /* sites are claimed in order */
        if (__atomic_load_n(&mt_overrun_sites[i].count, __ATOMIC_RELAXED) == (before ? before[i] : 0)) continue;
        if (shown++) mt_say("    and at:\n");
        print_stack(id - 1);
    }
}

/* Blocks written one byte past their end (inblock.c): found when their record
 * was read, at their release or at a snapshot; so a lower bound. */
void mt_overrun_report(void) {
    uint64_t n = __atomic_load_n(&mt_overrun_blocks, __ATOMIC_RELAXED);
    if (!n) return;
    char line[256];
    snprintf(line, sizeof line, "memtrace: heap overrun: the program wrote one byte past the end of %llu block%s, allocated at:\n",
             (unsigned long long)n, n == 1 ? "" : "s");
    mt_say(line);
    print_overrun_sites(NULL); /* the first few; the snapshot has them all */
}

/* ---- mismatched releases ------------------------------------------------------- */
uint64_t mt_mismatch_blocks;
struct mt_mismatch_site mt_mismatch_sites[MT_MISMATCH_SITES];

static const char *const kind_names[] = {"malloc", "new", "new[]"};
static const char *const release_names[] = {"free", "delete", "delete[]", "realloc"};

/* Called outside any shard lock, with the guard held, by the hook whose
 * caller released the block: walks the release's stack from there (rare: a
 * correct program never comes here) and counts the block under the first
 * site of the same two stacks and ways, claimed without a lock. */
__attribute__((noinline, cold)) void mt_mismatch_found(const struct mt_live *e, enum mt_release how, size_t size) {
    const void *hook = *(void *const *)__builtin_frame_address(0); /* the caller's frame: its saved rbp */
    uint32_t released_at = mt_record_stack(hook);
    uint64_t key = mt_mismatch_key(e->stack, released_at, mt_flags_kind(e->flags), how);
    int64_t bytes, count;
    mt_sample_weights(e->size, e->ptr, &bytes, &count);
    __atomic_add_fetch(&mt_mismatch_blocks, (uint64_t)count, __ATOMIC_RELAXED);
    for (int i = 0; i < MT_MISMATCH_SITES; i++) {
        struct mt_mismatch_site *site = &mt_mismatch_sites[i];
        uint64_t seen = 0;
        if (__atomic_compare_exchange_n(&site->key, &seen, key, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED) ||
            seen == key) {
            uint64_t none = 0;
            if (mt_release_matches(e->flags, how)) /* the sizes differ */
                __atomic_compare_exchange_n(&site->named_size, &none, size, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
            __atomic_add_fetch(&site->count, (uint64_t)count, __ATOMIC_RELAXED);
            __atomic_add_fetch(&site->bytes, (uint64_t)bytes, __ATOMIC_RELAXED);
            break;
        }
    }
}

void mt_mismatch_report(void) {
    uint64_t n = __atomic_load_n(&mt_mismatch_blocks, __ATOMIC_RELAXED);
    if (!n) return;
    char line[256];
    snprintf(line, sizeof line, "memtrace: mismatched release: %llu block%s released otherwise than allocated:\n",
             (unsigned long long)n, n == 1 ? "" : "s");
    mt_say(line);
    for (int i = 0; i < MT_MISMATCH_SITES && i < 4; i++) { /* the first few; the snapshot has them all */
        uint64_t key = __atomic_load_n(&mt_mismatch_sites[i].key, __ATOMIC_RELAXED);
        if (!key) break; /* sites are claimed in order */
        uint64_t count = __atomic_load_n(&mt_mismatch_sites[i].count, __ATOMIC_RELAXED);
        uint64_t named = __atomic_load_n(&mt_mismatch_sites[i].named_size, __ATOMIC_RELAXED);
        char size[48] = "";
        if (named) snprintf(size, sizeof size, " of %llu bytes", (unsigned long long)named);
        snprintf(line, sizeof line, "    %llu block%s allocated with %s and released with %s%s, allocated at:\n",
                 (unsigned long long)count, count == 1 ? "" : "s", kind_names[mt_mismatch_kind(key)],
                 release_names[mt_mismatch_how(key)], size);
        mt_say(line);
        print_stack(mt_mismatch_alloc_stack(key));
        mt_say("    released at:\n");
        print_stack(mt_mismatch_release_stack(key));
    }
}

struct site {
    int64_t bytes;
    int64_t count;
};

/* Prints the sites with bytes > 0, biggest first, at most `limit`. */
static void print_sites(struct site *sites, uint32_t n, int limit, const char *verb) {
    char line[256];
    for (int shown = 0; shown < limit; shown++) {
        uint32_t best = UINT32_MAX;
        for (uint32_t i = 0; i < n; i++)
            if (sites[i].bytes > 0 && (best == UINT32_MAX || sites[i].bytes > sites[best].bytes)) best = i;
        if (best == UINT32_MAX) return;
        if (sites[best].count >= 0)
            snprintf(line, sizeof line, "    %lld bytes in %lld blocks %s at:\n", (long long)sites[best].bytes,
                     (long long)sites[best].count, verb);
        else
            snprintf(line, sizeof line, "    %lld bytes %s at:\n", (long long)sites[best].bytes, verb);
        mt_say(line);
        print_stack(best);
        sites[best].bytes = 0;
    }
}

/* ---- regions ---------------------------------------------------------------------------- */
static void clear_region_flags(void) {
    for (int i = 0; i < MT_SHARDS; i++) mt_live_clear_flags(&mt_shards[i], MT_SLOT_REGION);
}

/* The heap overruns found so far, in all and by site, when the region began
 * (mt_live_lock_all has read the records of the blocks live then). */
static uint64_t region_overruns, region_site_overruns[MT_OVERRUN_SITES];

int mt_region_begin(int scope) {
    mt_guard++;
    mt_live_lock_all();
    clear_region_flags();
    region_overruns = mt_overrun_blocks;
    for (int i = 0; i < MT_OVERRUN_SITES; i++) region_site_overruns[i] = mt_overrun_sites[i].count;
    mt_region_owner = mt_thread_token();
    mt_region_active = scope;
    mt_live_unlock_all();
    mt_leave();
    return 0;
}

long mt_region_end(const char *label) {
    mt_guard++;
    /* Sum per stack under the locks; print after, because dladdr takes the
     * loader's lock, which a thread waiting for one of ours may hold. */
    mt_live_lock_all();
    int was_open = mt_region_active != 0;
    mt_region_active = 0;
    uint32_t n = mt_stack_count();
    size_t bytes = ((size_t)n * sizeof(struct site) + 4095) & ~(size_t)4095;
    struct site *sites = mt_map(bytes);
    int64_t total = 0, blocks = 0;
    for (int i = 0; sites && i < MT_SHARDS; i++) {
        struct mt_shard *sh = &mt_shards[i];
        struct mt_live_cursor c = {0, 0};
        struct mt_live e;
        while (mt_live_next(sh, &c, &e)) {
            if (!(e.flags & MT_SLOT_REGION) || (e.flags & MT_SLOT_IGNORED)) continue;
            if (e.stack < n) {
                sites[e.stack].bytes += (int64_t)e.size;
                sites[e.stack].count++;
            }
            total += (int64_t)e.size;
            blocks++;
        }
    }
    clear_region_flags();
    uint64_t overruns = was_open ? mt_overrun_blocks - region_overruns : 0; /* an end without a begin: none */
    mt_live_unlock_all();
    if (overruns > 0) {
        char line[512];
        snprintf(line, sizeof line,
                 "memtrace: %s%s%sthe program wrote one byte past the end of %llu block%s during the region (a heap "
                 "overrun), allocated at:\n",
                 label ? "region \"" : "", label ? label : "", label ? "\": " : "", (unsigned long long)overruns,
                 overruns == 1 ? "" : "s");
        mt_say(line);
        print_overrun_sites(region_site_overruns);
    }
    if (total > 0) {
        char line[512];
        snprintf(line, sizeof line, "memtrace: %s%s%s%lld bytes in %lld blocks allocated in the region are still live\n",
                 label ? "region \"" : "", label ? label : "", label ? "\": " : "", (long long)total,
                 (long long)blocks);
        mt_say(line);
        if (sites) print_sites(sites, n, 10, "allocated");
    }
    if (sites) mt_unmap(sites, bytes);
    mt_leave();
    return (long)total;
}

/* ---- growth ------------------------------------------------------------------------------- */
/* Live bytes per stack, into a fresh mapping of `*count` entries. */
static int64_t *live_per_stack(uint32_t *count, size_t *mapped) {
    mt_live_lock_all();
    uint32_t n = mt_stack_count();
    size_t stats_bytes = ((size_t)n * sizeof(struct mt_tstat) + 4095) & ~(size_t)4095;
    struct mt_tstat *stats = mt_map(stats_bytes);
    if (stats) mt_tstats_sum(stats, NULL, n);
    mt_live_unlock_all();
    *mapped = ((size_t)n * sizeof(int64_t) + 4095) & ~(size_t)4095;
    int64_t *live = stats ? mt_map(*mapped) : NULL;
    for (uint32_t i = 0; live && i < n; i++) live[i] = stats[i].live_bytes;
    if (stats) mt_unmap(stats, stats_bytes);
    *count = n;
    return live;
}

long mt_check_growth(void (*body)(void *), void *context, int warmup, int iterations, const char *label) {
    if (!body || iterations < 1) return 0;
    if (warmup < 0) warmup = 0;
    /* stopped[s]: stack s failed to grow in some iteration.  A fresh mapping
     * is zero, so every stack, including those born later, starts growing;
     * only the pages of stacks that stop are touched. */
    size_t grow_size = MAX_CHECKED_STACKS;
    uint8_t *stopped = mt_map(grow_size);
    if (!stopped) return -1;
    uint32_t base_n = 0, prev_n = 0;
    size_t base_size = 0, prev_size = 0;
    int64_t *base = NULL, *prev = NULL;
    /* One call site for the body, warm-up included: the stacks it allocates
     * from must be the same in every run to be compared. */
    for (int run = -1; run < warmup + iterations; run++) {
        if (run >= 0) body(context);
        if (run < warmup - 1) continue;
        mt_guard++;
        uint32_t cur_n;
        size_t cur_size;
        int64_t *cur = live_per_stack(&cur_n, &cur_size);
        mt_leave();
        if (!cur) return -1;
        if (run == warmup - 1) {
            base = cur;
            base_n = cur_n;
            base_size = cur_size;
            continue;
        }
        const int64_t *before = prev ? prev : base;
        uint32_t before_n = prev ? prev_n : base_n;
        for (uint32_t s = 0; s < cur_n && s < MAX_CHECKED_STACKS; s++)
            if (cur[s] <= (s < before_n ? before[s] : 0)) stopped[s] = 1;
        if (prev) mt_unmap(prev, prev_size);
        prev = cur;
        prev_n = cur_n;
        prev_size = cur_size;
    }
    mt_guard++;
    size_t sites_size = ((size_t)prev_n * sizeof(struct site) + 4095) & ~(size_t)4095;
    struct site *sites = mt_map(sites_size);
    int64_t total = 0;
    int64_t stacks = 0;
    for (uint32_t s = 0; s < prev_n && s < MAX_CHECKED_STACKS; s++) {
        if (stopped[s]) continue;
        int64_t grew = prev[s] - (s < base_n ? base[s] : 0);
        if (grew <= 0) continue;
        total += grew;
        stacks++;
        if (sites) {
            sites[s].bytes = grew;
            sites[s].count = -1;
        }
    }
    if (total > 0) {
        char line[512];
        snprintf(line, sizeof line, "memtrace: %s%s%s%lld bytes in %lld stacks grew in every one of %d iterations\n",
                 label ? "growth check \"" : "", label ? label : "", label ? "\": " : "", (long long)total,
                 (long long)stacks, iterations);
        mt_say(line);
        if (sites) print_sites(sites, prev_n, 10, "more after the iterations, allocated");
    }
    if (sites) mt_unmap(sites, sites_size);
    mt_unmap(stopped, grow_size);
    mt_unmap(base, base_size);
    mt_unmap(prev, prev_size);
    mt_leave();
    return (long)total;
}
