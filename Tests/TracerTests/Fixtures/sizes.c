/* Allocations of known sizes between two snapshots, for the SIZES section:
 * 1 byte once, 24 bytes three times, 100 bytes four times, calloc(10, 100)
 * once, that block grown to 5000 bytes by realloc, and 1 MiB once.  The
 * classes are powers of two: 0-1, 16-31, 64-127, 512-1023, 4096-8191 and
 * 2^20-(2^21-1) bytes gain exactly those counts and bytes.
 * Usage: sizes BEFORE-SNAPSHOT AFTER-SNAPSHOT */
#include <stdlib.h>

#include "memtrace.h"

int main(int argc, char **argv) {
    static void *blocks[16];
    int n = 0;
    if (argc != 3) return 2;
    memtrace_snapshot(argv[1]);
    blocks[n++] = malloc(1);
    for (int i = 0; i < 3; i++) blocks[n++] = malloc(24);
    for (int i = 0; i < 4; i++) blocks[n++] = malloc(100);
    void *grown = calloc(10, 100);
    blocks[n++] = realloc(grown, 5000);
    blocks[n++] = malloc(1 << 20);
    memtrace_snapshot(argv[2]);
    for (int i = 0; i < n; i++) free(blocks[i]);
    return 0;
}
