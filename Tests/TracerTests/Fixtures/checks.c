/* The in-process checks of memtrace.h: a leaking and a clean region, an
 * ignored block, a paused thread, and growth against a cache that fills. */
#include <stdio.h>
#include <stdlib.h>

#include "memtrace.h"

static void *kept_forever;
static void *cache[64];
static int cache_used;
static void **leaked;
static int leaked_count;

static void leak_some(void) {
    for (int i = 0; i < 3; i++) {
        void *p = malloc(40); /* @region-leak */
        (void)p;
    }
}

static void use_cache(void *context) {
    (void)context;
    if (cache_used < 2) cache[cache_used++] = malloc(512); /* @cache */
}

static void leak_per_call(void *context) {
    (void)context;
    use_cache(NULL);
    leaked = realloc(leaked, sizeof *leaked * (leaked_count + 1)); /* @grow-array */
    leaked[leaked_count++] = malloc(24);                           /* @grow-item */
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    setvbuf(stderr, NULL, _IONBF, 0);
    memtrace_region_begin();
    leak_some();
    long leaked_bytes = memtrace_region_end("leaky region");
    printf("leaky region: %ld\n", leaked_bytes);

    memtrace_region_begin();
    free(malloc(1000));
    kept_forever = malloc(77); /* @ignored */
    memtrace_ignore(kept_forever);
    memtrace_disable();
    void *unrecorded = malloc(55); /* @paused */
    memtrace_enable();
    printf("clean region: %ld\n", memtrace_region_end("clean region"));
    (void)unrecorded;

    printf("growth of a cache: %ld\n", memtrace_check_growth(use_cache, NULL, 0, 5, "cache"));
    printf("growth per call: %ld\n", memtrace_check_growth(leak_per_call, NULL, 2, 5, "per call"));
    return 0;
}
