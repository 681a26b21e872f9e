/*
 * Leaks 500 bytes, then ends the way its argument says: "status N" exits
 * with N, "underscore" calls _exit(0), "exit_group" makes the system call
 * itself (as Go's runtime does: no exit snapshot), "abort" is killed by
 * SIGABRT, anything else returns 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "corpus.h"

__attribute__((noinline)) static void leak(void) {
    void *p = malloc(500); /* SITE exits */
    memset(p, 0, 500);
}

int main(int argc, char **argv) {
    leak();
    scrub_stack();
    const char *how = argc > 1 ? argv[1] : "";
    if (strcmp(how, "status") == 0) return argc > 2 ? atoi(argv[2]) : 1;
    if (strcmp(how, "underscore") == 0) _exit(0);
    if (strcmp(how, "exit_group") == 0) syscall(SYS_exit_group, 0);
    if (strcmp(how, "abort") == 0) abort();
    return 0;
}
