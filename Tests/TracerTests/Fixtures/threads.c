/* Threads by the thousand: 40 waves of 50 threads, each thread allocating and
 * freeing 100 blocks and keeping exactly one 24-byte block.  Then two threads
 * allocate concurrently from different stacks. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define WAVES 40
#define PER_WAVE 50

static void *kept[WAVES * PER_WAVE];

static void *worker(void *arg) {
    long i = (long)arg;
    for (int k = 0; k < 100; k++) {
        void *p = malloc(32 + k); /* @thread-temporary */
        free(p);
    }
    kept[i] = malloc(24); /* @thread-kept */
    return NULL;
}

static void *left(void *arg) {
    void **out = arg;
    for (int k = 0; k < 20000; k++) free(malloc(64)); /* @left-temporary */
    *out = malloc(111); /* @left */
    return NULL;
}

static void *right(void *arg) {
    void **out = arg;
    for (int k = 0; k < 20000; k++) free(malloc(80)); /* @right-temporary */
    *out = malloc(222); /* @right */
    return NULL;
}

int main(void) {
    for (int w = 0; w < WAVES; w++) {
        pthread_t t[PER_WAVE];
        for (int i = 0; i < PER_WAVE; i++)
            if (pthread_create(&t[i], NULL, worker, (void *)(long)(w * PER_WAVE + i)) != 0) return 1;
        for (int i = 0; i < PER_WAVE; i++) pthread_join(t[i], NULL);
    }
    void *a = NULL, *b = NULL;
    pthread_t l, r;
    pthread_create(&l, NULL, left, &a);
    pthread_create(&r, NULL, right, &b);
    pthread_join(l, NULL);
    pthread_join(r, NULL);
    printf("threads: %d threads done\n", WAVES * PER_WAVE + 2);
    return 0;
}
