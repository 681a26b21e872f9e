/* A byte past the end of a block whose record is still in the block when
 * snapshots read it: two snapshots in a row, then the block is freed and
 * another one overrun and kept to the exit snapshot.  Each snapshot must
 * show the kept block live and count its overrun once.
 * Usage: overrunsnap */
#include <stdlib.h>
#include <string.h>

#include "memtrace.h"

__attribute__((noinline)) static char *overrun(void) {
    char *p = malloc(32); /* @overrun */
    memset(p, 'a', 32);
    ((volatile unsigned char *)p)[32] ^= 0xff; /* one byte past the end */
    return p;
}

int main(void) {
    char *first = overrun();
    memtrace_snapshot(NULL);
    memtrace_snapshot(NULL);
    free(first);
    char *second = overrun();
    (void)second;
    return 0;
}
