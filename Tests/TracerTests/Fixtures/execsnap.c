/* exec while a snapshot is being written.  execsnap DIR [HOW]: first a
 * vfork() child execs /bin/true (its exec must leave the parent's snapshot
 * lock alone); then the program keeps 300,000 blocks of 40 bytes, asks for a
 * snapshot with SIGUSR2, waits until the snapshot's temporary file appears in
 * DIR, and execs /bin/true at once, with execl (or HOW: execv, execvp, execle,
 * execlp, execve).  exec ends the helper thread that writes the snapshot; the
 * tracer must let the snapshot end first.  Exit 3: no temporary file appeared
 * within 10 s; 4: the exec failed. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BLOCKS 300000

extern char **environ;

/* Read without allocating: an allocation would wait for the snapshot's end. */
static int writing(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return 0;
    char buf[8192];
    int found = 0;
    for (long n; !found && (n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0;)
        for (long at = 0; !found && at < n; at += ((struct dirent64 *)(buf + at))->d_reclen)
            found = strstr(((struct dirent64 *)(buf + at))->d_name, ".tmp.") != NULL;
    close(fd);
    return found;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *how = argc > 2 ? argv[2] : "execl";
    pid_t child = vfork();
    if (child == 0) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
    }
    int status;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 5;

    void **keep = malloc(BLOCKS * sizeof *keep);
    for (int i = 0; i < BLOCKS; i++) keep[i] = malloc(40); /* @kept */
    raise(SIGUSR2);
    struct timespec step = {0, 100000};
    for (int tries = 0; !writing(argv[1]); tries++) {
        if (tries == 100000) return 3;
        nanosleep(&step, NULL);
    }
    char *args[] = {"true", NULL};
    if (!strcmp(how, "execv")) execv("/bin/true", args);
    else if (!strcmp(how, "execvp")) execvp("true", args);
    else if (!strcmp(how, "execve")) execve("/bin/true", args, environ);
    else if (!strcmp(how, "execle")) execle("/bin/true", "true", (char *)NULL, environ);
    else if (!strcmp(how, "execlp")) execlp("true", "true", (char *)NULL);
    else execl("/bin/true", "true", (char *)NULL);
    return 4;
}
