/* The live-block table under the shapes that stress it: whole 64 KiB stretches
 * of 8-byte blocks, stretches emptied and refilled, the largest size a slot
 * holds (64 MiB less two bytes), the two above it (kept in a side table), and
 * a block over 4 GiB.
 * Usage: livetable DIR; writes DIR/1.snap .. DIR/4.snap. */
#include <stdio.h>
#include <stdlib.h>

#include "memtrace.h"

#define N 100000
static void *dense[N], *mixed[N];

static void snap(const char *dir, int n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%d.snap", dir, n);
    if (memtrace_snapshot(path) != 0) printf("snapshot %d failed\n", n);
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    setvbuf(stdout, NULL, _IONBF, 0);
    for (int i = 0; i < N; i++) dense[i] = malloc(8); /* @dense */
    snap(argv[1], 1);
    for (int i = 0; i < N; i += 2) free(dense[i]);
    snap(argv[1], 2);
    for (int i = 1; i < N; i += 2) free(dense[i]);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) mixed[i] = malloc(24 + (size_t)(i % 5) * 40); /* @churn */
        for (int i = 0; i < N; i++) free(mixed[(i * 7919) % N]);
    }
    for (int i = 0; i < N; i++) mixed[i] = malloc(24 + (size_t)(i % 5) * 40); /* @mixed */
    void *huge = malloc((size_t)5 << 30); /* @huge */
    void *inline_max = malloc(((size_t)64 << 20) - 2); /* @inline */
    void *edge = malloc(((size_t)64 << 20) - 1);       /* @edge */
    void *big = malloc((size_t)64 << 20);              /* @big */
    snap(argv[1], 3);
    free(huge);
    free(big);
    free(edge);
    free(inline_max);
    for (int i = 0; i < N; i++) free(mixed[i]);
    snap(argv[1], 4);
    printf("huge=%d\n", huge != NULL);
    return 0;
}
