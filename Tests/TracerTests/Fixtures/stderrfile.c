/* Closes standard error and opens a file, which gets descriptor 2: a data file
 * of its own, or (with "log") a log opened for appending, as daemons make
 * their standard error.  With "signal" too, asks for a snapshot with SIGUSR2
 * and waits up to 10 s for the log to grow.
 * Usage: stderrfile FILE [log [signal]] */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    int log = argc > 2 && strcmp(argv[2], "log") == 0;
    close(2);
    int fd = open(argv[1], O_WRONLY | O_CREAT | (log ? O_APPEND : O_TRUNC), 0644);
    const char *data = "program data\n";
    if (write(fd, data, strlen(data)) != (ssize_t)strlen(data)) return 1;
    void *block = malloc(10);
    free(block);
    if (argc > 3 && strcmp(argv[3], "signal") == 0) {
        kill(getpid(), SIGUSR2);
        for (int waited = 0; waited < 1000 && lseek(fd, 0, SEEK_END) == (off_t)strlen(data); waited++)
            usleep(10000);
    }
    printf("fd=%d\n", fd);
    return 0;
}
