/*
 * Blocks known only to threads that never call the allocator themselves, so
 * that the tracer never met them: one thread holds its block in a live local
 * (reachable), a second does too with every signal blocked, waiting in
 * sigwait for any (reachable), a third left its block's only pointer in a frame that
 * has returned, far below its stack pointer (definite: as for the main thread
 * in deadstack.c, a scan reads a stack from its stack pointer up).  main
 * exits while the threads still wait.
 *
 * memcheck agrees on all three, and also lists the threads' TLS vectors,
 * which pthread_create allocates here and the tracer leaves to the loader:
 *
 * EXPECT reachable 112 2
 * EXPECT definite 56 1
 * MEMCHECK reachable 112 2
 * MEMCHECK definite 56 1
 * MEMCHECK possible 816 3
 */
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "corpus.h"

static void *volatile to_holder, *volatile to_waiter, *volatile to_dropper;
static volatile int ready;

/* The handed block, its only other pointer (the global) cleared. */
static NOINLINE void *take(void *volatile *from) {
    void *p = *from;
    *from = NULL;
    return p;
}

static void *holder(void *unused) {
    (void)unused;
    void *volatile held = take(&to_holder);
    __atomic_add_fetch(&ready, 1, __ATOMIC_RELEASE);
    for (;;) pause();
    (void)held;
}

/* Waits for any signal: while it does, the kernel unblocks them all for it,
 * so a signal sent to stop it for the scan would be taken as its own. */
static void *waiter(void *unused) {
    (void)unused;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, NULL);
    void *volatile held = take(&to_waiter);
    __atomic_add_fetch(&ready, 1, __ATOMIC_RELEASE);
    for (int sig;;) sigwait(&all, &sig);
    (void)held;
}

/* Eight frames of 2 KiB down, the pointer kept at the bottom, then returned
 * from: 16 KiB below where the thread then waits. */
static NOINLINE void bury(int depth) {
    volatile char frame[2048];
    frame[0] = 0;
    if (depth) {
        bury(depth - 1);
        return;
    }
    void *volatile slot = take(&to_dropper);
    (void)slot;
}

static void *dropper(void *unused) {
    (void)unused;
    bury(8);
    __atomic_add_fetch(&ready, 1, __ATOMIC_RELEASE);
    for (;;) pause();
}

static NOINLINE void hand_out(void) {
    to_holder = malloc(72);  /* SITE held */
    to_waiter = malloc(40);  /* SITE waiting */
    to_dropper = malloc(56); /* SITE dropped */
    pthread_t t;
    pthread_create(&t, NULL, holder, NULL);
    pthread_create(&t, NULL, waiter, NULL);
    pthread_create(&t, NULL, dropper, NULL);
}

int main(void) {
    hand_out();
    while (__atomic_load_n(&ready, __ATOMIC_ACQUIRE) < 3) usleep(1000);
    scrub_stack();
    exit(0);
}
