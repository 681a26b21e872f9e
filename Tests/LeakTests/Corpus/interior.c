/*
 * A block reached only through a pointer into its middle is possibly lost
 * (memcheck; LeakSanitizer would call it reachable). The block its first word
 * points to is reached from a possibly lost block, and memcheck calls that
 * one possibly lost too.
 *
 * EXPECT possible 164 2
 */
#include "corpus.h"

struct outer {
    void *child;
    char payload[88];
};

static void *middle;

static NOINLINE void point_inside(void) {
    struct outer *o = calloc(1, sizeof *o); /* SITE outer */
    o->child = malloc(68); /* SITE inner */
    KEEP(middle, (char *)o + 40);
}

int main(void) {
    point_inside();
    scrub_stack();
    return 0;
}
