/*
 * Copies a 32-character name into malloc(strlen(name)) three times and once
 * into a block of the right size, writing the byte where each short copy's
 * terminator would go (flipped rather than zeroed, so that it changes
 * whatever was there), and frees all four: no leak, three heap overruns at
 * one site.
 */
#include <stdlib.h>
#include <string.h>

static const char *name = "abcdefghijklmnopqrstuvwxyz012345";

__attribute__((noinline)) static char *copy(size_t extra) {
    size_t n = strlen(name);
    char *p = malloc(n + extra); /* SITE overrun */
    memcpy(p, name, n);
    ((volatile unsigned char *)p)[n] ^= 0xff; /* one byte past the end when extra is 0 */
    return p;
}

int main(void) {
    for (int i = 0; i < 3; i++) free(copy(0));
    free(copy(1));
    return 0;
}
