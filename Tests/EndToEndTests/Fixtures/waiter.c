/*
 * waiter: keeps one block of 777 bytes, writes its pid to the file named by
 * its argument, then waits for signals until one kills it. Used to test
 * `memtrace snapshot PID` and the forwarding of SIGTERM by `memtrace run`.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *held;

int main(int argc, char **argv) {
    held = malloc(777); /* SITE held */
    char text[32];
    int len = snprintf(text, sizeof text, "%d\n", (int)getpid());
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, text, (size_t)len) != len) return 1;
    close(fd);
    rename(tmp, argv[1]);
    for (;;) pause();
}
