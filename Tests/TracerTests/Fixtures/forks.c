/* fork, vfork+exec and posix_spawn.  The parent keeps a 3000-byte block; the
 * forked child inherits it, adds a 4000-byte block and exits normally, so it
 * writes its own snapshot holding both.  With the argument `exec` the forked
 * child execs /bin/true after its allocation instead, as a shell's does. */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
    int exec_child = argc > 1 && strcmp(argv[1], "exec") == 0;
    void *parent_block = malloc(3000); /* @parent */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        void *child_block = malloc(4000); /* @child */
        (void)child_block;
        if (exec_child) {
            execl("/bin/true", "true", (char *)NULL);
            _exit(127);
        }
        exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;

    pid = vfork();
    if (pid == 0) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
    }
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 2;

    char *spawn_argv[] = {"true", NULL};
    if (posix_spawn(&pid, "/bin/true", NULL, NULL, spawn_argv, environ) != 0) return 3;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 4;
    printf("forks: done\n");
    (void)parent_block;
    return 0;
}
