/* A program of one thread that does nothing but allocate and release, over
 * 4096 slots of sizes up to 2000 bytes (past glibc's thread cache, into the
 * arena's bins), while the tracer's helper writes snapshots: glibc's malloc
 * takes no lock here, so the helper must not read the arena (mallinfo2), nor
 * wait on jemalloc's mutexes (mallctl).  It once did, and the program crashed,
 * aborted or hung. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096
#define OPERATIONS 1500000

static void *slot[SLOTS];

int main(void) {
    unsigned s = 1;
    for (long n = 0; n < OPERATIONS; n++) {
        s = s * 1103515245 + 12345;
        unsigned i = (s >> 8) % SLOTS;
        free(slot[i]);
        size_t size = 1 + ((s >> 20) % 3 == 0 ? (s >> 4) % 64 : (s >> 4) % 2000);
        slot[i] = malloc(size);
        memset(slot[i], 1, size);
    }
    for (int i = 0; i < SLOTS; i++) free(slot[i]);
    printf("unlocked: %d operations\n", OPERATIONS);
    return 0;
}
