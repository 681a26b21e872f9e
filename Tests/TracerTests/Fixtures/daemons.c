/* A chain of daemons: each process allocates a while, then calls daemon(),
 * whose fork is libc's own (not the fork a program calls, which the tracer
 * replaces); the parent exits and the child goes on.  The 30th child writes
 * "done" into the file named by the argument.  The test gives the tracer's
 * helper a snapshot to write every 2 ms meanwhile. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    for (int round = 0; round < 30; round++) {
        for (int i = 0; i < 20000; i++) free(malloc(100 + i % 500));
        if (daemon(1, 0) != 0) return 1;
    }
    FILE *f = fopen(argv[1], "w");
    if (!f) return 1;
    fputs("done\n", f);
    return fclose(f) == 0 ? 0 : 1;
}
