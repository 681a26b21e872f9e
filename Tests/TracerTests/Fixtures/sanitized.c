/* Built with -fsanitize=thread or -fsanitize=leak: each sanitizer's runtime
 * starts before libc (.preinit_array) and brings an allocator of its own,
 * which the tracer forwards to.  The 123-byte block is lost on purpose. */
#include <stdio.h>
#include <stdlib.h>

void *volatile dropped;

int main(void) {
    dropped = malloc(123); /* @lost */
    dropped = NULL;
    puts("hello");
    return 0;
}
