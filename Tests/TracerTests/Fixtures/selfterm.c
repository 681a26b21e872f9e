/* Sends itself SIGTERM, whose action is the default one, then goes on: as
 * PID 1 (a container's entrypoint) the kernel ignores it.  Usage: selfterm */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void) {
    void *kept = malloc(2222); /* @kept */
    kill(getpid(), SIGTERM);
    printf("alive as pid %d\n", (int)getpid());
    free(kept);
    return 3;
}
