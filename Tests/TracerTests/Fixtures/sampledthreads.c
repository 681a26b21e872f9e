/* Sampling mode with four threads allocating at once, each from an arena of
 * its own (stretches of the address space 64 MiB apart, so in different
 * regions of the sampling filter), and the main thread freeing what they
 * handed it.  Blocks of 64 KiB, sampled at 1 KiB, are always sampled with a
 * weight of one: what is left live is known exactly. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS 4
#define HANDED 200
#define KEPT 20

static pthread_barrier_t start, done;
static void *handed[THREADS][HANDED], *kept[THREADS][KEPT];

static void *work(void *arg) {
    long t = (long)arg;
    pthread_barrier_wait(&start);
    for (int i = 0; i < HANDED; i++) {
        handed[t][i] = malloc(64 << 10);          /* @handed */
        for (int j = 0; j < 50; j++) free(malloc(32)); /* @small */
    }
    for (int i = 0; i < KEPT; i++) kept[t][i] = malloc(64 << 10); /* @kept */
    /* Alive until every thread has allocated: a thread that had ended would
     * hand its arena to the next thread's first allocation. */
    pthread_barrier_wait(&done);
    return NULL;
}

int main(void) {
    pthread_t threads[THREADS];
    pthread_barrier_init(&start, NULL, THREADS);
    pthread_barrier_init(&done, NULL, THREADS);
    for (long t = 0; t < THREADS; t++) pthread_create(&threads[t], NULL, work, (void *)t);
    for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
    unsigned long regions = 0;
    for (int t = 0; t < THREADS; t++) regions |= 1ul << (((unsigned long)handed[t][0] >> 26) & 7);
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < HANDED; i++) free(handed[t][i]);
    printf("sampledthreads: %d regions\n", __builtin_popcountl(regions));
    return 0;
}
