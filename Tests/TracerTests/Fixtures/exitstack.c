/* A thread of the smallest stack glibc allows (PTHREAD_STACK_MIN, 16 KiB)
 * ends the program with exit(): the exit snapshot is written on its stack. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *worker(void *unused) {
    (void)unused;
    void *kept = malloc(100); /* @kept */
    (void)kept;
    puts("worker exiting");
    fflush(stdout);
    exit(0);
}

int main(void) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, PTHREAD_STACK_MIN);
    pthread_t thread;
    if (pthread_create(&thread, &attr, worker, NULL) != 0) return 2;
    pause();
    return 1;
}
