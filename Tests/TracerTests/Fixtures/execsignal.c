/* A signal handler that runs while its thread is inside exec: the program
 * execvp()s a command that PATH does not have, over and over (glibc's search
 * of PATH, in the exec wrapper that holds the tracer's snapshot lock), and
 * SIGALRM comes 20 ms in.  execsignal MODE, the handler:
 *   exit   exit(7), which writes the exit snapshot on this thread
 *   _exit  _exit(7), whose snapshot the helper writes
 *   fork   forks a child that exits 0, waits for it, then _exit(0)
 *   exec   execs /bin/echo execed
 *   none   no handler: SIGALRM's default action ends the program
 * Each once hung for good, or for 2 s and without a snapshot. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *mode;

static void on_alarm(int sig) {
    (void)sig;
    if (!strcmp(mode, "exit")) exit(7);
    if (!strcmp(mode, "_exit")) _exit(7);
    if (!strcmp(mode, "fork")) {
        pid_t child = fork();
        if (child == 0) exit(0);
        int status = 1;
        waitpid(child, &status, 0);
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
    }
    if (!strcmp(mode, "exec")) {
        char *args[] = {"echo", "execed", NULL};
        execv("/bin/echo", args);
        _exit(3);
    }
}

int main(int argc, char **argv) {
    mode = argc > 1 ? argv[1] : "exit";
    if (strcmp(mode, "none") != 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;
        sigaction(SIGALRM, &sa, NULL);
    }
    struct itimerval soon = {{0, 0}, {0, 20000}};
    setitimer(ITIMER_REAL, &soon, NULL);
    char *args[] = {"missing", NULL};
    for (;;) execvp("no-such-command-for-memtrace", args);
}
