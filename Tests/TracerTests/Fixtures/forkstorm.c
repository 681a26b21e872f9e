/* Forks 200 children one after another while the tracer's helper thread is
 * busy (the test sets a very short timeline interval): a lock the helper
 * holds at the moment of fork must not be inherited held by the child. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    for (int i = 0; i < 200; i++) {
        pid_t pid = fork();
        if (pid < 0) return 1;
        if (pid == 0) {
            free(malloc(100)); /* the child allocates: it needs the tables */
            _exit(0);
        }
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 2;
    }
    printf("forkstorm: 200 children\n");
    return 0;
}
