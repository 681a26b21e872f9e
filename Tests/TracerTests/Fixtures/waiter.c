/* Allocates a 7777-byte block, says "ready", then waits for a line on stdin:
 * the test asks for snapshots by signal or lets the interval timer fire. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void) {
    void *block = malloc(7777); /* @waiting */
    printf("ready\n");
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof line, stdin)) { /* EOF is fine */
    }
    free(block);
    return 0;
}
