/* How a program's own choices for SIGHUP, SIGINT and SIGTERM fare while the
 * tracer stands in for their default action.  terminate MODE:
 *   query    prints what sigaction() and signal() report as it changes them
 *   default  keeps the default action
 *   own      handles SIGTERM itself: prints "handled 15" and exits 3
 *   restore  installs a handler with signal(), then puts the default back
 *   ignore   ignores SIGTERM
 *   pipe     puts SIGPIPE back to its default action, then writes into a
 *            pipe nobody reads (SIGPIPE ends it there)
 *   quiet    puts SIGPIPE back to its default action, waits 0.3 s and exits
 *            without a word
 *   vfork    a child made by vfork() sends itself SIGTERM before it execs:
 *            the child, not the parent, dies of it
 * Every mode but query, pipe, quiet and vfork keeps a 4242-byte block, says "ready" and waits for a
 * line on stdin (or a signal that ends it). */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static void on_term(int sig) { got = sig; }

static const char *name(void (*handler)(int)) {
    return handler == SIG_DFL ? "default" : handler == SIG_IGN ? "ignore" : handler == on_term ? "own" : "other";
}

static void query(void) {
    static const int sigs[] = {SIGHUP, SIGINT, SIGTERM};
    for (int i = 0; i < 3; i++) {
        struct sigaction old;
        sigaction(sigs[i], NULL, &old);
        printf("%s: %s, flags %#x\n", strsignal(sigs[i]), name(old.sa_handler), (unsigned)old.sa_flags);
    }
    printf("signal(own) was %s\n", name(signal(SIGTERM, on_term)));
    printf("signal(default) was %s\n", name(signal(SIGTERM, SIG_DFL)));
    printf("signal(default) was %s\n", name(signal(SIGTERM, SIG_DFL)));
    struct sigaction own, old;
    memset(&own, 0, sizeof own);
    own.sa_handler = on_term;
    sigaction(SIGINT, &own, &old);
    printf("sigaction(own) was %s\n", name(old.sa_handler));
    sigaction(SIGINT, NULL, &old);
    printf("now %s\n", name(old.sa_handler));
    own.sa_handler = SIG_IGN;
    sigaction(SIGHUP, &own, &old);
    printf("sigaction(ignore) was %s\n", name(old.sa_handler));
    sigaction(SIGHUP, NULL, &old);
    printf("now %s\n", name(old.sa_handler));
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "default";
    if (strcmp(mode, "query") == 0) {
        query();
        return 0;
    }
    if (strcmp(mode, "vfork") == 0) {
        pid_t child = vfork();
        if (child == 0) {
            kill(getpid(), SIGTERM);
            _exit(0);
        }
        int status = 0;
        waitpid(child, &status, 0);
        printf("child %s %d\n", WIFSIGNALED(status) ? "killed by" : "exited with",
               WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        return 0;
    }
    if (strcmp(mode, "quiet") == 0) {
        signal(SIGPIPE, SIG_DFL);
        usleep(300000);
        return 0;
    }
    if (strcmp(mode, "pipe") == 0) {
        signal(SIGPIPE, SIG_DFL); /* whoever started us may have ignored it */
        char *kept = malloc(2424); /* @piped */
        int fds[2];
        if (pipe(fds) != 0) return 1;
        close(fds[0]);
        ssize_t n = write(fds[1], "x", 1);
        printf("write returned %zd\n", n); /* not reached */
        free(kept);
        return 4;
    }
    if (strcmp(mode, "own") == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_term;
        sigaction(SIGTERM, &sa, NULL);
    } else if (strcmp(mode, "restore") == 0) {
        signal(SIGTERM, on_term);
        signal(SIGTERM, SIG_DFL);
    } else if (strcmp(mode, "ignore") == 0) {
        signal(SIGTERM, SIG_IGN);
    }
    char *block = malloc(4242); /* @kept */
    printf("ready\n");
    fflush(stdout);
    /* Until EOF or the handler has run.  Not a plain fgets loop: a signal
     * handled between the test of `got` and the read would leave the read
     * waiting for good; a short poll tests `got` again soon. */
    char line[16];
    struct pollfd in = {.fd = 0, .events = POLLIN};
    while (!got) {
        if (poll(&in, 1, 20) > 0 && !fgets(line, sizeof line, stdin)) break;
    }
    if (got) printf("handled %d\n", (int)got);
    free(block);
    return got ? 3 : 0;
}
