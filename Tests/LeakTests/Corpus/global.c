/*
 * Blocks held by roots: a global (.bss), an initialised global (.data), a
 * thread-local variable, and a block reached through another reachable block.
 * All of them are still reachable; nothing is lost.
 *
 * EXPECT reachable 424 4
 */
#include "corpus.h"

struct holder {
    void *child;
    char payload[56];
};

static void *in_bss;
void *in_data = (void *)1;
static __thread void *in_tls;

static NOINLINE void hold(void) {
    KEEP(in_bss, malloc(100)); /* SITE bss */
    KEEP(in_data, malloc(120)); /* SITE data */
    struct holder *h = calloc(1, sizeof *h); /* SITE holder */
    h->child = malloc(140); /* SITE child */
    KEEP(in_tls, h);
}

int main(void) {
    hold();
    scrub_stack();
    return 0;
}
