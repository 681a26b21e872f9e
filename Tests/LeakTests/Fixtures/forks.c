/*
 * Two processes, each with its own leak: the parent loses 70 bytes after the
 * fork, the child loses 50 and exits normally. A second child ends through
 * _exit() and writes no exit snapshot, which is not an error.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

__attribute__((noinline)) static void lose(size_t size) {
    void *p = malloc(size); /* SITE lose */
    memset(p, 1, size);
}

__attribute__((noinline)) static void scrub(void) {
    volatile char area[16384];
    memset((char *)area, 0, sizeof area);
}

int main(void) {
    pid_t child = fork();
    if (child == 0) {
        lose(50);
        scrub();
        exit(0);
    }
    pid_t quiet = fork();
    if (quiet == 0) _exit(0);
    lose(70);
    scrub();
    waitpid(child, NULL, 0);
    waitpid(quiet, NULL, 0);
    return 0;
}
