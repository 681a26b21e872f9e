/*
 * The program ends with exit() from a signal handler running on an
 * alternate signal stack. The scan reads that stack from where it runs
 * (the handler's block is reachable) and the thread's own stack; reading
 * from the alternate stack up to the top of the thread's own had crossed
 * every mapping in between, the tracer's tables among them: nothing was
 * lost, after minutes of scanning.
 *
 * EXPECT definite 456 1
 * EXPECT reachable 123 1
 */
#include <signal.h>
#include <sys/mman.h>

#include "corpus.h"

static NOINLINE void handler(int sig) {
    (void)sig;
    void *volatile held = malloc(123); /* SITE held */
    (void)held;
    exit(0);
}

static NOINLINE void lose(void) {
    void *volatile lost = malloc(456); /* SITE lost */
    (void)lost;
}

int main(void) {
    stack_t alternate = {0};
    alternate.ss_size = 64 * 1024;
    alternate.ss_sp = mmap(NULL, alternate.ss_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    sigaltstack(&alternate, NULL);
    struct sigaction action = {0};
    action.sa_handler = handler;
    action.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR1, &action, NULL);
    lose();
    scrub_stack();
    raise(SIGUSR1);
    return 1;
}
