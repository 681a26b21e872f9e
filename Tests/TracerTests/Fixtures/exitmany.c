/* Sixteen threads and main call exit() at the same moment.  Usage: exitmany */
#include <pthread.h>
#include <stdlib.h>

static pthread_barrier_t ready;

static void *exiter(void *unused) {
    (void)unused;
    void *block = malloc(64);
    pthread_barrier_wait(&ready);
    free(block);
    exit(7);
}

int main(void) {
    enum { THREADS = 16 };
    pthread_barrier_init(&ready, NULL, THREADS + 1);
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&threads[i], NULL, exiter, NULL);
    void *kept = malloc(1234); /* @kept */
    (void)kept;
    pthread_barrier_wait(&ready);
    exit(7);
}
