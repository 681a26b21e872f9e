/*
 * Blocks whose only pointers are in memory the program mapped itself, as
 * Python keeps its objects' pointers in the pools it maps: a block pointed to
 * from a private anonymous mapping is reachable, one pointed into possibly
 * lost; and one that nothing points to is lost.
 *
 * EXPECT reachable 64 1
 * EXPECT possible 48 1
 * EXPECT definite 32 1
 */
#include <sys/mman.h>

#include "corpus.h"

static void **pool;

static NOINLINE void fill(void) {
    pool = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pool == MAP_FAILED) exit(1);
    pool[100] = malloc(64);              /* SITE pooled */
    pool[200] = (char *)malloc(48) + 16; /* SITE inside */
    void *volatile lost = malloc(32);    /* SITE lost */
    (void)lost;
}

int main(void) {
    fill();
    scrub_stack();
    return 0;
}
