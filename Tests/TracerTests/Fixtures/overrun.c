/* A program that writes one byte past blocks it asked for: a 32-character
 * name copied into malloc(strlen(name)), with the byte where its terminator
 * would go changed (flipped rather than zeroed, so that it changes whatever
 * was there).  Ten such copies are freed and one kept to the end; five copies
 * of the right size are made and freed; then a checked region (memtrace.h)
 * makes and frees one of each.  Traced, every figure must stay right, the
 * region's end names the overrun in the region, memtrace_overruns() counts
 * all twelve (the kept block's too: the region's end read its record), and
 * the tracer names every site at exit.
 * Usage: overrun */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memtrace.h"

static const char *name = "abcdefghijklmnopqrstuvwxyz012345";

__attribute__((noinline)) static char *copy_short(void) {
    size_t n = strlen(name);
    char *p = malloc(n); /* @short */
    memcpy(p, name, n);
    ((volatile unsigned char *)p)[n] ^= 0xff; /* one byte past the end */
    return p;
}

__attribute__((noinline)) static char *copy(void) {
    size_t n = strlen(name);
    char *p = malloc(n + 1); /* @right */
    memcpy(p, name, n + 1);
    return p;
}

int main(void) {
    for (int i = 0; i < 10; i++) free(copy_short());
    char *kept = copy_short();
    for (int i = 0; i < 5; i++) free(copy());
    setvbuf(stdout, NULL, _IONBF, 0);
    memtrace_region_begin();
    free(copy_short());
    free(copy());
    printf("region: %ld\n", memtrace_region_end("copies"));
    printf("overruns: %ld\n", memtrace_overruns());
    printf("%.4s\n", kept);
    return 0;
}
