/* Threads as Rust's runtime starts them: a small stack (PTHREAD_STACK_MIN), and
 * the thread's first allocation inside pthread_getattr_np, which holds the
 * thread's own lock while it allocates.  Each keeps one 48-byte block. */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS 8

static void *kept[THREADS];

static void *worker(void *arg) {
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) != 0) return NULL;
    pthread_attr_destroy(&attr);
    kept[(long)arg] = malloc(48); /* @small-stack */
    return NULL;
}

int main(void) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, PTHREAD_STACK_MIN);
    for (long i = 0; i < THREADS; i++) {
        pthread_t t;
        if (pthread_create(&t, &attr, worker, (void *)i) != 0) return 1;
        pthread_join(t, NULL);
    }
    printf("smallstack: %d threads done\n", THREADS);
    return 0;
}
