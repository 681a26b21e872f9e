/* A thread with a cancellation request pending goes on allocating and
 * releasing (neither is a cancellation point) while periodic snapshots of a
 * million blocks make it wait for the tracer's locks: it must reach the end
 * of its loop, as it does untraced.  Usage: cancelwait */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static volatile int done, reached_end;

static void *churn(void *unused) {
    (void)unused;
    while (!done) free(malloc(32));
    reached_end = 1;
    pthread_testcancel();
    return NULL;
}

int main(void) {
    enum { BLOCKS = 1000000 };
    void **kept = malloc(BLOCKS * sizeof *kept);
    for (int i = 0; i < BLOCKS; i++) kept[i] = malloc(24);
    pthread_t thread;
    pthread_create(&thread, NULL, churn, NULL);
    usleep(100000);
    pthread_cancel(thread); /* pending until a cancellation point */
    sleep(1);
    done = 1;
    void *result;
    pthread_join(thread, &result);
    printf("cancelled=%d reached_end=%d\n", result == PTHREAD_CANCELED, reached_end);
    return 0;
}
