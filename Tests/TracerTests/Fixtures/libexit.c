/* A library that allocates as it loads and when called, and frees both in
 * its destructor, which the loader runs after the tracer's own: the exit
 * snapshot must come after it, with neither block live.  Built twice: with
 * -DLIBRARY -shared -fPIC as libexit.so, and as the program that links it,
 * which keeps a block of its own to the end.
 * Usage: libexit */
#include <stdio.h>
#include <stdlib.h>

#ifdef LIBRARY
static void *loaded, *called;

__attribute__((constructor)) static void load(void) {
    loaded = malloc(1000); /* @loaded */
}

void libexit_call(void) {
    called = malloc(2000); /* @called */
}

__attribute__((destructor)) static void unload(void) {
    free(loaded);
    free(called);
}
#else
void libexit_call(void);

static void *kept;

int main(void) {
    libexit_call();
    kept = malloc(3000); /* @kept */
    printf("libexit: done\n");
    return 0;
}
#endif
