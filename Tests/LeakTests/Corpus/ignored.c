/*
 * A lost block marked with memtrace_ignore() is never reported by the tracer;
 * valgrind, which knows nothing of the mark, reports it as definitely lost.
 * A second lost block, not marked, is reported by both.
 *
 * EXPECT definite 40 1
 * MEMCHECK definite 112 2
 */
#include "corpus.h"

static NOINLINE void lose(void) {
    void *kept = malloc(72); /* SITE ignored */
    memtrace_ignore(kept);
    void *lost = malloc(40); /* SITE lost */
    ((char *)lost)[0] = ((char *)kept)[0] = 1;
}

int main(void) {
    lose();
    scrub_stack();
    return 0;
}
