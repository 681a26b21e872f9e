/*
 * A block whose only pointer is left in a dead stack slot: the function that
 * held it has returned, and nothing has overwritten its frame since, because
 * main does not scrub the stack here. Whether a scan sees that slot depends
 * on where the scan runs: memcheck scans only the live part of each stack
 * (from the stack pointer up), so it does not.
 *
 * EXPECT definite 88 1
 */
#include "corpus.h"

static NOINLINE void drop(void) {
    void *volatile slot = malloc(88); /* SITE dead */
    (void)slot;
}

int main(void) {
    drop();
    return 0;
}
