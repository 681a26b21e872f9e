/*
 * sites: allocation sites with known sizes and counts, for the end-to-end tests.
 *
 *   ./sites [SCALE [STATUS]]
 *
 * small_blocks keeps 100*SCALE blocks of 24 bytes; a snapshot is taken after
 * it (memtrace_snapshot); then big_blocks keeps 3 of 10000 bytes, zeroed keeps
 * one calloc(50, 20), grown keeps one block realloc'd to 5000 bytes, and churn
 * frees everything it allocates. Exits with STATUS. Lines marked SITE/CALL are
 * looked up by the tests; nothing here prints, so stdio allocates nothing.
 */
#include <stdlib.h>

#include "memtrace.h"

static void *keep[4096];
static int kept;

static void small_blocks(int n) {
    for (int i = 0; i < n; i++) keep[kept++] = malloc(24); /* SITE small */
}

static void big_blocks(void) {
    for (int i = 0; i < 3; i++) keep[kept++] = malloc(10000); /* SITE big */
}

static void zeroed(void) {
    keep[kept++] = calloc(50, 20); /* SITE calloc */
}

static void grown(void) {
    char *p = malloc(10); /* SITE first */
    p = realloc(p, 5000); /* SITE realloc */
    keep[kept++] = p;
}

static void churn(void) {
    for (int i = 0; i < 500; i++) {
        void *p = malloc(200 + i); /* SITE churn */
        free(p);
    }
}

int main(int argc, char **argv) {
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    small_blocks(100 * scale); /* CALL small */
    memtrace_snapshot(NULL);
    big_blocks(); /* CALL big */
    zeroed();     /* CALL calloc */
    grown();      /* CALL realloc */
    churn();
    return argc > 2 ? atoi(argv[2]) : 0;
}
