/* Forks while the loader's module list is being walked: by another thread
 * ("other", its dl_iterate_phdr callback waits for the fork), or by the
 * forking thread itself ("self", the fork is made from inside its callback).
 * The child allocates, exits, and so writes an exit snapshot, which lists the
 * modules; with "signal", it first allocates in a signal handler, whose
 * stack the unwinder hands to libunwind.  Usage: forkloader other|self|signal */
#define _GNU_SOURCE
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int inside, forked, in_handler;
static void *volatile handled;

static void allocate(int sig) {
    (void)sig;
    handled = malloc(77);
}

static void child_work(void) {
    if (in_handler) {
        signal(SIGUSR1, allocate);
        raise(SIGUSR1);
    }
    void *block = malloc(100); /* @child */
    printf("child allocated %s\n", block ? "100" : "nothing");
    fflush(stdout);
    exit(0);
}

static int wait_for_fork(struct dl_phdr_info *info, size_t size, void *data) {
    (void)info, (void)size, (void)data;
    inside = 1;
    while (!forked) usleep(1000);
    return 1;
}

static void *walker(void *unused) {
    (void)unused;
    dl_iterate_phdr(wait_for_fork, NULL);
    return NULL;
}

static pid_t child;

static int fork_inside(struct dl_phdr_info *info, size_t size, void *data) {
    (void)info, (void)size, (void)data;
    child = fork();
    if (child == 0) child_work();
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    in_handler = strcmp(argv[1], "signal") == 0;
    if (strcmp(argv[1], "other") == 0 || in_handler) {
        pthread_t thread;
        pthread_create(&thread, NULL, walker, NULL);
        while (!inside) usleep(1000);
        child = fork();
        if (child == 0) child_work();
        forked = 1;
        pthread_join(thread, NULL);
    } else {
        dl_iterate_phdr(fork_inside, NULL);
    }
    int status = 0;
    waitpid(child, &status, 0);
    printf("child exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}
