/*
 * A thread that ended but was never joined: its result waits in its control
 * block for a pthread_join that may still come, so the block is reachable,
 * as memcheck has it, though the thread's stack is no root any more.
 *
 * memcheck agrees, and also lists the thread's TLS vector, which
 * pthread_create allocates here and the tracer leaves to the loader:
 *
 * EXPECT reachable 111 1
 * MEMCHECK reachable 111 1
 * MEMCHECK possible 272 1
 */
#include <pthread.h>
#include <unistd.h>

#include "corpus.h"

static NOINLINE void *worker(void *arg) {
    (void)arg;
    return malloc(111); /* SITE result */
}

int main(void) {
    static pthread_t thread;
    pthread_create(&thread, NULL, worker, NULL);
    usleep(200 * 1000);
    scrub_stack();
    return 0;
}
