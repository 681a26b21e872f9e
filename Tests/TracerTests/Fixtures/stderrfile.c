/* Closes standard error and opens a file, which gets descriptor 2: a data file
 * of its own, or (with "log") a log opened for appending, as daemons make
 * their standard error.  Usage: stderrfile FILE [log] */
#include <fcntl.h>
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
    printf("fd=%d\n", fd);
    return 0;
}
