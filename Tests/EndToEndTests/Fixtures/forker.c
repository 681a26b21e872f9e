/*
 * forker: the parent keeps 111 bytes, its forked child keeps 333 bytes and
 * exits normally; each writes its own exit snapshot.
 */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void *held;

int main(void) {
    held = malloc(111); /* SITE parent */
    pid_t child = fork();
    if (child == 0) {
        held = malloc(333); /* SITE child */
        exit(0);
    }
    int status;
    waitpid(child, &status, 0);
    return 0;
}
