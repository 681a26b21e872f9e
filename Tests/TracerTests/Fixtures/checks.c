/* The in-process checks of memtrace.h: a leaking and a clean region, an
 * ignored block, a paused thread, growth against a cache that fills, and a
 * region of every thread against one of the calling thread only. */
#include <pthread.h>
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

static void *other_thread(void *unused) {
    (void)unused;
    return malloc(300); /* @other-thread */
}

/* While the region is open another thread allocates 300 bytes and this one
 * 40; both are kept. */
static long region_with_another_thread(int (*begin)(void), const char *label) {
    begin();
    pthread_t t;
    void *theirs = NULL;
    if (pthread_create(&t, NULL, other_thread, NULL) == 0) pthread_join(t, &theirs);
    void *mine = malloc(40); /* @this-thread */
    long bytes = memtrace_region_end(label);
    free(mine);
    free(theirs);
    return bytes;
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
    /* The first thread's stack and its TLS vector stay in glibc's cache when it
     * ends: start one before, so that the regions see only their 300 and 40. */
    pthread_t t;
    void *warm = NULL;
    if (pthread_create(&t, NULL, other_thread, NULL) == 0) pthread_join(t, &warm);
    free(warm);
    printf("every thread: %ld\n", region_with_another_thread(memtrace_region_begin, "every thread"));
    printf("this thread: %ld\n", region_with_another_thread(memtrace_region_begin_thread, "this thread"));
    return 0;
}
