/* Four threads each hold 100 blocks of 2 KiB at one moment (a barrier makes
 * sure), then free them: the process's peak is the 800 KiB they hold
 * together, though no thread alone changed its live bytes by the 256 KiB
 * after which a thread publishes its changes to the others. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
static pthread_barrier_t together;

static void *hold(void *unused) {
    (void)unused;
    void *blocks[100];
    for (int i = 0; i < 100; i++) {
        blocks[i] = malloc(2048); /* @held */
        memset(blocks[i], 1, 2048);
    }
    pthread_barrier_wait(&together); /* all 800 KiB live */
    pthread_barrier_wait(&together);
    for (int i = 0; i < 100; i++) free(blocks[i]);
    return NULL;
}

int main(void) {
    pthread_t threads[THREADS];
    pthread_barrier_init(&together, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) pthread_create(&threads[i], NULL, hold, NULL);
    for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    puts("done");
    return 0;
}
