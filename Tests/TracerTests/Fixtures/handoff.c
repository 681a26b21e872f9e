/* Two threads that hand blocks over: a producer allocates each block, a
 * consumer frees it, each allocating a little of its own on the way, while
 * the tracer's helper writes snapshots.  Both record at once, so the thread
 * that records without locks changes (tracer.h, the owner) until every
 * thread takes the locks; a thread that was waiting for a shard lock when
 * another took ownership must not go on under that lock. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define QUEUE 1024

static long BLOCKS = 200000; /* or argv[1] */

static void *queue[QUEUE];
static int head, tail;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;

static void *producer(void *arg) {
    for (long i = 0; i < BLOCKS; i++) {
        void *p = malloc(16 + i % 300); /* @handed */
        free(malloc(8 + i % 50));       /* @producer-own */
        pthread_mutex_lock(&mutex);
        while ((head + 1) % QUEUE == tail) pthread_cond_wait(&changed, &mutex);
        queue[head] = p;
        head = (head + 1) % QUEUE;
        pthread_cond_broadcast(&changed);
        pthread_mutex_unlock(&mutex);
    }
    return arg;
}

static void *consumer(void *arg) {
    for (long i = 0; i < BLOCKS; i++) {
        pthread_mutex_lock(&mutex);
        while (head == tail) pthread_cond_wait(&changed, &mutex);
        void *p = queue[tail];
        tail = (tail + 1) % QUEUE;
        pthread_cond_broadcast(&changed);
        pthread_mutex_unlock(&mutex);
        free(p);
        free(malloc(100)); /* @consumer-own */
    }
    return arg;
}

int main(int argc, char **argv) {
    if (argc > 1) BLOCKS = atol(argv[1]);
    void *kept = malloc(777); /* @kept */
    pthread_t a, b;
    pthread_create(&a, NULL, producer, NULL);
    pthread_create(&b, NULL, consumer, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("handed %ld blocks\n", BLOCKS);
    free(kept);
    return 0;
}
