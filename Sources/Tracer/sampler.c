/*
 * Sampling mode (MEMTRACE_SAMPLE=BYTES): record an allocation only when a
 * per-thread byte countdown runs out, the countdown being drawn from an
 * exponential distribution with mean BYTES (Poisson sampling by bytes, as in
 * tcmalloc, jemalloc and Go).  A block of size S is then sampled with
 * probability 1 - e^(-S/R), and scaling its size and count by the inverse of
 * that probability gives unbiased estimates of bytes and blocks.
 *
 * Unsampled blocks must cost (almost) nothing, including at free time, so a
 * small counting filter answers "could this pointer be sampled?" without a
 * lock.  Its cells change only when a sampled block comes or goes (rare by
 * design), under their region's lock; frees read only a bitmap of the cells
 * that are not zero (16 KiB a region), and that only where its summary (one
 * bit per word of the bitmap, 256 bytes a region, that stay in the cache)
 * says a sampled block may be (tracer.h).  The blocks served before the
 * allocator was found (hooks.c's bootstrap buffer) hold their cells for
 * good, so that free() sends them to the path that recognises them.
 *
 * No libm: the tracer may load into programs that do not use it, so log and
 * exp are computed here to the few digits sampling needs.
 */
#include <stdint.h>
#include <string.h>

#include "tracer.h"

uint64_t mt_sample_rate;
uint8_t *mt_sample_filter;
uint64_t *mt_sample_bits;
static uint64_t *bitmap; /* mt_sample_bits, from before it is published */

__thread int64_t mt_sample_countdown __attribute__((tls_model("initial-exec")));
static __thread uint64_t rng __attribute__((tls_model("initial-exec")));
static uint64_t seed = 1;
static uint64_t thread_counter;

/* ln(x) for x > 0: x = m * 2^e with m in [1, 2), ln m = 2 atanh((m-1)/(m+1)). */
double mt_ln(double x) {
    union {
        double d;
        uint64_t u;
    } v = {.d = x};
    int e = (int)((v.u >> 52) & 0x7ff) - 1023;
    v.u = (v.u & ((1ull << 52) - 1)) | (1023ull << 52);
    double t = (v.d - 1) / (v.d + 1), t2 = t * t, sum = 0, power = t;
    for (int k = 1; k <= 21; k += 2) {
        sum += power / k;
        power *= t2;
    }
    return 2 * sum + e * 0.6931471805599453;
}

/* e^x for x <= 0 (and modest positive x): 2^k * e^r with |r| <= ln2/2. */
double mt_exp(double x) {
    if (x < -700) return 0;
    double kf = x / 0.6931471805599453;
    int k = (int)(kf < 0 ? kf - 0.5 : kf + 0.5);
    double r = x - k * 0.6931471805599453, term = 1, sum = 1;
    for (int i = 1; i < 14; i++) {
        term *= r / i;
        sum += term;
    }
    union {
        double d;
        uint64_t u;
    } scale = {.u = (uint64_t)(k + 1023) << 52};
    return sum * scale.d;
}

static uint64_t next_random(void) {
    /* splitmix64: good enough to draw intervals, and cheap */
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int64_t draw(void) {
    /* uniform in (0, 1], never 0 so the log is finite */
    double u = ((next_random() >> 11) + 1) * (1.0 / 9007199254740992.0);
    double interval = -mt_ln(u) * (double)mt_sample_rate;
    return interval < 1 ? 1 : (int64_t)interval;
}

/* ---- the filter ---------------------------------------------------------- */
#define BITMAP_BYTES (MT_FILTER_CELLS / 8)

_Static_assert(MT_FILTER_REGION_CELLS / 64 / 64 == 32, "mt_filter_summary_bit takes 32 summary words a region");
uint64_t mt_filter_summary[MT_FILTER_SUMMARY_WORDS] __attribute__((aligned(64)));
/* A region's cells, bitmap and summary change under its lock. */
static struct {
    mt_lock_t lock;
} __attribute__((aligned(64))) regions[MT_FILTER_REGIONS];

static mt_lock_t *region_lock(uint32_t cell) { return &regions[cell / MT_FILTER_REGION_CELLS].lock; }
static uint64_t *summary_word(uint32_t cell) {
    return &mt_filter_summary[cell / MT_FILTER_REGION_CELLS * MT_FILTER_SUMMARY_STRIDE + (cell >> 12 & 31)];
}

/* Stores only what changes: a store of the same value takes the line from
 * every other thread's cache all the same. */
static inline void set_bit(uint64_t *word, uint64_t bit) {
    if (!(*word & bit)) __atomic_store_n(word, *word | bit, __ATOMIC_RELAXED);
}

static void cell_up(uint32_t i, int pin) {
    uint8_t *cell = &mt_sample_filter[i];
    *cell = pin ? 255 : *cell < 255 ? *cell + 1 : 255;
    set_bit(&bitmap[i >> 6], 1ull << (i & 63));
    set_bit(summary_word(i), 1ull << ((i >> 6) & 63));
}

void mt_filter_add(uint64_t ptr) {
    uint32_t i = mt_filter_index(ptr);
    mt_lock(region_lock(i));
    cell_up(i, 0);
    mt_unlock(region_lock(i));
}

static void cell_down(uint32_t i) {
    uint8_t *cell = &mt_sample_filter[i];
    uint64_t *word = &bitmap[i >> 6], *summary = summary_word(i);
    if (*cell < 255 && --*cell == 0) { /* a saturated cell stays set: it only costs a lookup */
        __atomic_store_n(word, *word & ~(1ull << (i & 63)), __ATOMIC_RELAXED);
        if (*word == 0) __atomic_store_n(summary, *summary & ~(1ull << ((i >> 6) & 63)), __ATOMIC_RELAXED);
    }
}

void mt_filter_drop(uint64_t ptr) {
    uint32_t i = mt_filter_index(ptr);
    mt_lock(region_lock(i));
    cell_down(i);
    mt_unlock(region_lock(i));
}

void mt_filter_pin(const void *p, uint64_t bytes) {
    if (!bitmap || !bytes) return;
    uint64_t lo = (uint64_t)(uintptr_t)p >> 4, hi = ((uint64_t)(uintptr_t)p + bytes - 1) >> 4;
    for (uint64_t g = lo; g <= hi && g - lo < MT_FILTER_CELLS; g++) {
        uint32_t i = mt_filter_index(g << 4);
        mt_lock(region_lock(i));
        cell_up(i, 1);
        mt_unlock(region_lock(i));
    }
}

void mt_sampler_init(uint64_t rate, uint64_t seed_value) {
    if (seed_value) seed = seed_value;
    if (!rate) return;
    uint8_t *filter = mt_map(MT_FILTER_CELLS + BITMAP_BYTES);
    if (!filter) return; /* exact mode, then */
    mt_sample_filter = filter;
    bitmap = (uint64_t *)(void *)(filter + MT_FILTER_CELLS); /* from here on a bootstrap block pins itself */
    const void *boot;
    uint64_t boot_bytes = mt_boot_used(&boot);
    mt_filter_pin(boot, boot_bytes);
    if (rate < (1ull << 40) && 4 * (int64_t)rate > mt_publish_bytes) mt_publish_bytes = 4 * (int64_t)rate;
    else if (rate >= (1ull << 40)) mt_publish_bytes = INT64_MAX / 2;
    /* From here on an unsampled block's free is only forwarded. */
    __atomic_store_n(&mt_sample_bits, bitmap, __ATOMIC_RELEASE);
    __atomic_store_n(&mt_sample_rate, rate, __ATOMIC_RELEASE);
    mt_hooks_sampling_started();
}

/* Slow path of mt_sample(): the countdown ran out (or this thread has none yet). */
int mt_sample_slow(size_t size) {
    if (!rng) {
        /* Each thread's sequence is fixed by the seed and its order of arrival,
         * so a single-threaded program samples the same blocks every run. */
        rng = seed * 0x2545f4914f6cdd1dull + __atomic_add_fetch(&thread_counter, 1, __ATOMIC_RELAXED);
        mt_sample_countdown = draw() - (int64_t)size;
        if (mt_sample_countdown > 0) return 0;
    }
    mt_sample_countdown = draw();
    return 1;
}

void mt_sample_forget(size_t size) {
    if (mt_sample_rate && rng && (uint64_t)mt_sample_countdown <= size) mt_sample_countdown = draw();
}

/* The weight 1/p is rarely whole: rounding it the same way for every block
 * would bias counts (a 4000-byte block at 8 KiB has weight 2.59; always 3 is
 * 16% too many).  It is rounded up with probability equal to its fraction,
 * the coin being the block's address, so freeing the block later subtracts
 * exactly what its allocation added. */
static double weight(double x) { /* 1 / (1 - e^-x), x > 0 */
    if (x < 1) {
        /* Its series: a fifth of exp's cost (a weight is computed twice a
         * sampled block), and no 1 - e^-x to lose digits in; 2e-8 off at most. */
        double x2 = x * x;
        return 1 / x + 0.5 + x * (1.0 / 12 + x2 * (-1.0 / 720 + x2 * (1.0 / 30240 + x2 * (-1.0 / 1209600))));
    }
    double p = 1 - mt_exp(-x);
    return p > 0 ? 1 / p : 1;
}

void mt_sample_weights_slow(uint64_t size, uint64_t ptr, int64_t *bytes, int64_t *count) {
    double w = weight((double)(size ? size : 1) / (double)mt_sample_rate);
    double whole = (double)(int64_t)w;
    double coin = (double)(mt_mix(ptr ^ 0x5851f42d4c957f2dull) >> 11) * (1.0 / 9007199254740992.0);
    *count = (int64_t)whole + (coin < w - whole ? 1 : 0);
    *bytes = (int64_t)((double)size * w + 0.5);
}

void mt_sampler_after_fork_child(void) {
    /* keep the child's draws apart from the parent's */
    rng ^= 0xd1b54a32d192ed03ull;
    /* Cells change under a shard lock, and fork held them all; only pinning a
     * bootstrap block (no shard lock) could have held a region's. */
    for (int r = 0; r < MT_FILTER_REGIONS; r++) mt_unlock(&regions[r].lock);
}
