/* A vfork child that calls exit() where _exit was due (an exec that failed):
 * it runs its parent's exit handlers, which the parent then never runs.
 * Prints the child's pid.  Usage: vforkexit */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    void *kept = malloc(1000); /* @kept */
    (void)kept;
    pid_t child = vfork();
    if (child == 0) exit(3);
    int status = 0;
    waitpid(child, &status, 0);
    printf("child %d exited %d\n", (int)child, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}
