/*
 * waiter: keeps one block of 777 bytes, writes its pid to the file named by
 * its first argument, then waits for signals until one kills it. Used to test
 * `memtrace snapshot PID` and the forwarding of SIGTERM by `memtrace run`.
 *
 * A second argument takes SIGUSR2 over first, as servers and compilers do:
 * "own" installs a handler that creates the file "usr2-received", "ignore"
 * sets SIG_IGN, "default" sets SIG_DFL (the signal would end it); "greedy"
 * installs that handler for SIGRTMIN+6 to SIGRTMIN+9 too; "signalfd" blocks
 * SIGUSR2 and reads it from a signalfd (creating "usr2-received" for each);
 * "block" blocks every signal but SIGTERM. "fork" forks first: the child
 * writes the file and waits, the parent waits for it.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

static void *held;

static void on_usr2(int sig) {
    (void)sig;
    int fd = open("usr2-received", O_WRONLY | O_CREAT, 0600);
    if (fd >= 0) close(fd);
}

int main(int argc, char **argv) {
    held = malloc(777); /* SITE held */
    if (argc > 2 && (strcmp(argv[2], "own") == 0 || strcmp(argv[2], "greedy") == 0)) signal(SIGUSR2, on_usr2);
    if (argc > 2 && strcmp(argv[2], "greedy") == 0)
        for (int k = 6; k <= 9; k++) signal(SIGRTMIN + k, on_usr2);
    if (argc > 2 && strcmp(argv[2], "ignore") == 0) signal(SIGUSR2, SIG_IGN);
    if (argc > 2 && strcmp(argv[2], "default") == 0) signal(SIGUSR2, SIG_DFL);
    int reader = -1;
    if (argc > 2 && strcmp(argv[2], "signalfd") == 0) {
        sigset_t usr2;
        sigemptyset(&usr2);
        sigaddset(&usr2, SIGUSR2);
        sigprocmask(SIG_BLOCK, &usr2, NULL);
        reader = signalfd(-1, &usr2, SFD_CLOEXEC);
        if (reader < 0) return 1;
    }
    if (argc > 2 && strcmp(argv[2], "block") == 0) {
        sigset_t all;
        sigfillset(&all);
        sigdelset(&all, SIGTERM);
        sigprocmask(SIG_BLOCK, &all, NULL);
    }
    if (argc > 2 && strcmp(argv[2], "fork") == 0) {
        pid_t child = fork();
        if (child < 0) return 1;
        if (child > 0) {
            int status;
            waitpid(child, &status, 0);
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
    }
    char text[32];
    int len = snprintf(text, sizeof text, "%d\n", (int)getpid());
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, text, (size_t)len) != len) return 1;
    close(fd);
    rename(tmp, argv[1]);
    struct signalfd_siginfo info;
    while (reader >= 0 && read(reader, &info, sizeof info) == (ssize_t)sizeof info) on_usr2((int)info.ssi_signo);
    for (;;) pause();
}
