/*
 * How long a snapshot stops the program, for `make bench`: with BLOCKS live
 * blocks, the program asks for a snapshot with SIGUSR2 (as `memtrace
 * snapshot PID` does) and goes on allocating and releasing, timing each
 * step; the longest step while the snapshot is written is the pause.  Then
 * a tenth more blocks and a second snapshot, which has only those to take
 * in.  Run it traced: untraced, SIGUSR2 ends it.
 *
 * Usage: pause [BLOCKS]   (default 1000000)
 * Prints: "pause: quiet X ms, first snapshot Y ms, second snapshot Z ms",
 * each the longest step of its window (quiet: before any snapshot).
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static size_t size_of(uint64_t i) { return 16 + (i % 32) * 8; }

/* Releases and allocates blocks at random for `seconds`; the longest step. */
static double churn(void **blocks, uint64_t n, double seconds) {
    double start = now(), last = start, worst = 0;
    while (last - start < seconds) {
        for (int k = 0; k < 64; k++) {
            uint64_t i = next() % n;
            free(blocks[i]);
            blocks[i] = malloc(size_of(i));
        }
        double t = now();
        if (t - last > worst) worst = t - last;
        last = t;
    }
    return worst;
}

int main(int argc, char **argv) {
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    if (n < 10) return 2;
    uint64_t more = n / 10;
    void **blocks = malloc((n + more) * sizeof *blocks);
    if (!blocks) return 1;
    for (uint64_t i = 0; i < n; i++) blocks[i] = malloc(size_of(i));
    double quiet = churn(blocks, n, 0.3);
    raise(SIGUSR2);
    double first = churn(blocks, n, 1.5);
    for (uint64_t i = n; i < n + more; i++) blocks[i] = malloc(size_of(i));
    raise(SIGUSR2);
    double second = churn(blocks, n + more, 1.5);
    printf("pause: quiet %.1f ms, first snapshot %.1f ms, second snapshot %.1f ms\n", quiet * 1e3, first * 1e3,
           second * 1e3);
    return 0;
}
