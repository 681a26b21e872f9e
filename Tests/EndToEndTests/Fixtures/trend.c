/*
 * trend: a leak and a cache side by side, for `memtrace trend`.
 *
 *   ./trend [STEPS [MS]]
 *
 * Each of STEPS steps (default 12): leak_step keeps 2048 more bytes for good
 * (a leak: 2048 * STEPS bytes at the end); cache_put stores 16 entries of
 * 1024 bytes in a cache of 64 entries, freeing the oldest entry once it is
 * full, so it fills in 4 steps and then holds 64 KiB however long the program
 * runs; scratch allocates and frees a buffer. After each step the program asks
 * for a snapshot (memtrace_snapshot) and sleeps MS milliseconds (default 20).
 * Lines marked SITE are looked up by the tests; nothing here prints.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "memtrace.h"

#define CACHE_SLOTS 64

static void *leaked[1024];
static int leaks;
static void *cache[CACHE_SLOTS];
static int next_slot;

static void leak_step(void) {
    leaked[leaks++] = malloc(2048); /* SITE leak */
}

static void cache_put(void) {
    free(cache[next_slot]);
    cache[next_slot] = malloc(1024); /* SITE cache */
    next_slot = (next_slot + 1) % CACHE_SLOTS;
}

static void scratch(void) {
    char *buffer = malloc(4096);
    memset(buffer, 0, 4096);
    free(buffer);
}

int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 12;
    int ms = argc > 2 ? atoi(argv[2]) : 20;
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
    for (int step = 0; step < steps && step < 1024; step++) {
        leak_step();
        for (int i = 0; i < 16; i++) cache_put();
        scratch();
        memtrace_snapshot(NULL);
        nanosleep(&pause, NULL);
    }
    return 0;
}
