/* Blocks released by a signal handler while the program allocates and
 * releases in a loop: a timer interrupts the loop, often inside the tracer,
 * and each handler call frees one of 300 pooled blocks.  Every block of the
 * pool is released in the end (the rest after the loop), so none may be
 * left live in the snapshot. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

#define POOL 300
static void *pool[POOL];
static volatile int freed_by_handler;

__attribute__((noinline)) static void fill_pool(void) {
    for (int i = 0; i < POOL; i++) pool[i] = malloc(48); /* @pool */
}

static void on_alarm(int sig) {
    (void)sig;
    int saved = errno;
    int i = freed_by_handler;
    if (i < POOL) {
        free(pool[i]);
        pool[i] = NULL;
        freed_by_handler = i + 1;
    }
    errno = saved;
}

__attribute__((noinline)) static void churn(void) {
    for (long i = 0; i < 20000000 && freed_by_handler < POOL; i++) {
        void *p = malloc((size_t)(i % 512) + 1);
        *(volatile char *)p = 1;
        free(p);
    }
}

int main(void) {
    fill_pool();
    struct sigaction sa;
    sa.sa_handler = on_alarm;
    sa.sa_flags = 0;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval every = {{0, 300}, {0, 300}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &every, NULL);
    churn();
    setitimer(ITIMER_REAL, &off, NULL);
    for (int i = 0; i < POOL; i++) free(pool[i]);
    printf("pool released\n");
    return 0;
}
