/* Ways out through _exit() and _Exit(), which skip atexit handlers and
 * destructors.  quickexit MODE, after keeping a 7777-byte block:
 *   _exit    _exit(7)
 *   _Exit    _Exit(5)
 *   thread   a second thread keeps a 4242-byte block and calls _exit(6)
 *   handler  a SIGTERM handler calls _exit(9); the program raises SIGTERM
 *   fork     a forked child keeps a 3333-byte block and calls _exit(4); the
 *            parent exits with the child's status
 *   vfork    a vfork() child whose exec fails calls _exit(127); the parent
 *            exits 0 if it saw that status */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *keep[2];

static void on_term(int sig) {
    (void)sig;
    _exit(9);
}

static void *second(void *arg) {
    (void)arg;
    keep[1] = malloc(4242); /* @thread */
    _exit(6);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    keep[0] = malloc(7777); /* @kept */
    if (!strcmp(mode, "_exit")) _exit(7);
    if (!strcmp(mode, "_Exit")) _Exit(5);
    if (!strcmp(mode, "thread")) {
        pthread_t t;
        pthread_create(&t, NULL, second, NULL);
        for (;;) pause();
    }
    if (!strcmp(mode, "handler")) {
        signal(SIGTERM, on_term);
        raise(SIGTERM);
    }
    if (!strcmp(mode, "fork")) {
        pid_t child = fork();
        if (child == 0) {
            keep[1] = malloc(3333); /* @child */
            _exit(4);
        }
        int status = 0;
        waitpid(child, &status, 0);
        return WEXITSTATUS(status);
    }
    if (!strcmp(mode, "vfork")) {
        pid_t child = vfork();
        if (child == 0) {
            execl("/nonexistent/program", "program", (char *)NULL);
            _exit(127);
        }
        int status = 0;
        waitpid(child, &status, 0);
        return WIFEXITED(status) && WEXITSTATUS(status) == 127 ? 0 : 1;
    }
    return 2;
}
