/* Closes its standard output and puts it back, 20,000 times, as a shell
 * does around every command, allocating meanwhile, while the tracer's
 * helper reads /proc/self/statm for the timeline and writes snapshots: a
 * file the helper opened in the gap took the number, the program's dup2
 * replaced it, and the helper's close then closed the program's output (or
 * its snapshot went there).  Counts the times standard output was not the
 * file it put back. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void) {
    int keep = dup(1), lost = 0;
    struct stat want;
    if (keep < 0 || fstat(keep, &want) != 0) return 2;
    for (int i = 0; i < 20000; i++) {
        close(1);
        free(malloc(64 + i % 512));
        usleep(20);
        if (dup2(keep, 1) != 1) lost++;
        struct stat now;
        if (fstat(1, &now) != 0 || now.st_ino != want.st_ino || now.st_dev != want.st_dev) lost++;
    }
    printf("fdshuffle: %d lost\n", lost);
    return 0;
}
