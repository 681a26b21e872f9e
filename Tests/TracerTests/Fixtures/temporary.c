/* Which releases are temporary allocations: blocks freed before their thread
 * allocated anything else.  Each marked line's expected count is in
 * TracerTests.testTemporaryAllocations. */
#include <stdlib.h>

#include "memtrace.h"

static void *keep;

int main(void) {
    for (int i = 0; i < 100; i++) free(malloc(32)); /* @alone */
    for (int i = 0; i < 50; i++) {
        void *a = malloc(64); /* @first */
        void *b = malloc(16); /* @second */
        free(a);
        free(b);
    }
    for (int i = 0; i < 10; i++) {
        char *p = malloc(8);  /* @grown */
        p = realloc(p, 4096); /* @regrown */
        free(p);
    }
    for (int i = 0; i < 20; i++) {
        void *a = malloc(48); /* @paused */
        memtrace_disable();
        void *unseen = malloc(8); /* not recorded, but allocated after a */
        memtrace_enable();
        free(a);
        free(unseen);
    }
    keep = malloc(100); /* @kept */
    void *c = calloc(4, 25); /* @zeroed */
    free(c);
    return 0;
}
