/* Blocks far apart: 1,000 blocks of 256 KiB, each mapped by glibc on its
 * own (above its 128 KiB threshold), so that the bits the tracer keeps for
 * each (inblock.c) are in a page of their own: a page of them covers 256 KiB
 * of memory.  A snapshot before the blocks and one with them.
 * Usage: farapart BEFORE-SNAPSHOT WITH-SNAPSHOT */
#include <stdio.h>
#include <stdlib.h>

#include "memtrace.h"

#define BLOCKS 1000

int main(int argc, char **argv) {
    static void *blocks[BLOCKS];
    if (argc != 3) return 2;
    memtrace_snapshot(argv[1]);
    for (int i = 0; i < BLOCKS; i++) blocks[i] = malloc(256 << 10); /* @far */
    memtrace_snapshot(argv[2]);
    for (int i = 0; i < BLOCKS; i++) free(blocks[i]);
    puts("done");
    return 0;
}
