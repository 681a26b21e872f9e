/* Sends itself SIGTERM, whose action is the default one, then goes on: as
 * PID 1 (a container's entrypoint) the kernel ignores it.  With "child", a
 * forked child sends itself SIGTERM, and it ends: it is not PID 1.
 * Usage: selfterm [child] */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    void *kept = malloc(2222); /* @kept */
    if (argc > 1 && strcmp(argv[1], "child") == 0) {
        fflush(stdout);
        pid_t child = fork();
        if (child == 0) {
            void *child_kept = malloc(3333); /* @child */
            (void)child_kept;
            kill(getpid(), SIGTERM);
            _exit(9);
        }
        int status = 0;
        waitpid(child, &status, 0);
        printf("child pid %d ended by signal %d\n", (int)child, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
    kill(getpid(), SIGTERM);
    printf("alive as pid %d\n", (int)getpid());
    free(kept);
    return 3;
}
