/*
 * Cycles no root reaches. memcheck makes one block of each cycle the leader of
 * its "clique": the leader is definitely lost, the blocks reached from it are
 * indirectly lost. So a ring of three 40-byte blocks counts one definite block
 * and two indirect ones, and a 56-byte block that points only to itself is
 * definitely lost.
 *
 * EXPECT definite 96 2
 * EXPECT indirect 80 2
 */
#include "corpus.h"

struct ring {
    struct ring *next;
    char payload[32];
};

struct self {
    struct self *me;
    char payload[48];
};

static NOINLINE void make_ring(void) {
    struct ring *a = calloc(1, sizeof *a); /* SITE ring */
    struct ring *b = calloc(1, sizeof *b);
    struct ring *c = calloc(1, sizeof *c);
    a->next = b;
    b->next = c;
    c->next = a;
}

static NOINLINE void make_self(void) {
    struct self *s = calloc(1, sizeof *s); /* SITE self */
    s->me = s;
}

int main(void) {
    make_ring();
    make_self();
    scrub_stack();
    return 0;
}
