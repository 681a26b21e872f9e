/*
 * A thread that allocated ends, and its stack goes to glibc's cache; a
 * second thread, which never calls the allocator, takes that stack over,
 * blocks every signal (so the scan cannot stop it) and keeps running with
 * the only pointer to a block. The stacks of threads that ended are left out
 * of the roots, but not one that a running thread took over.
 *
 * memcheck agrees, and also lists the second thread's TLS vector, which
 * pthread_create allocates here and the tracer leaves to the loader:
 *
 * EXPECT reachable 4000 1
 * MEMCHECK reachable 4000 1
 * MEMCHECK possible 272 1
 */
#include <pthread.h>
#include <signal.h>

#include "corpus.h"

static void *volatile handoff;
static volatile int started;

static NOINLINE void *first(void *arg) {
    void *volatile p = malloc(16); /* SITE first */
    free(p);
    return arg;
}

static NOINLINE void *reader(void *arg) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    char *volatile block = handoff;
    handoff = NULL;
    started = 1;
    unsigned long sum = 0;
    for (;;)
        for (int i = 0; i < 4000; i++) sum += (unsigned char)block[i];
    return arg;
}

static NOINLINE void start_reader(void) {
    pthread_t thread;
    handoff = malloc(4000); /* SITE held */
    memset(handoff, 1, 4000);
    pthread_create(&thread, NULL, reader, NULL);
    while (!started) {
    }
}

int main(void) {
    pthread_t thread;
    pthread_create(&thread, NULL, first, NULL);
    pthread_join(thread, NULL);
    start_reader();
    scrub_stack();
    return 0;
}
