/* A program of one thread that does nothing but allocate and release, over
 * 4096 slots of sizes up to 2000 bytes (past glibc's thread cache, into the
 * arena's bins), while the tracer's helper writes snapshots: glibc's malloc
 * takes no lock here, so the helper must not read the arena (mallinfo2), nor
 * wait on jemalloc's mutexes (mallctl).  It once did, and the program crashed,
 * aborted or hung.  The program's own thread reads them instead; given a
 * number of milliseconds, the program then sleeps that long, and the
 * snapshots written meanwhile go without them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOTS 4096
#define OPERATIONS 1500000

static void *slot[SLOTS];

int main(int argc, char **argv) {
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
    fflush(stdout);
    if (argc > 1) {
        long ms = atol(argv[1]);
        struct timespec idle = {ms / 1000, ms % 1000 * 1000000};
        while (nanosleep(&idle, &idle) != 0) {
        }
    }
    return 0;
}
