/* Which releases are temporary allocations: blocks freed before their thread
 * allocated anything else.  Each marked line's expected count is in
 * TracerTests.testTemporaryAllocations. */
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>

#include "memtrace.h"

static void *keep;

/* A request handed to a worker, which frees it and answers with a reply of
 * the same size (glibc's per-thread cache gives it the request's address) and
 * one more block; main frees both.  No block here is a temporary allocation:
 * the request is freed by another thread, the reply is not the last block its
 * thread allocated, nor one main allocated. */
static void *request, *reply, *more;
static sem_t to_worker, to_main;

static void *worker(void *unused) {
    for (int i = 0; i < 10; i++) {
        sem_wait(&to_worker);
        free(request);
        reply = malloc(48); /* @reply */
        more = malloc(48);  /* @more */
        sem_post(&to_main);
    }
    return unused;
}

int main(void) {
    for (int i = 0; i < 100; i++) free(malloc(32)); /* @alone */
    for (int i = 0; i < 50; i++) {
        void *a = malloc(64); /* @first */
        void *b = malloc(16); /* @second */
        free(a);
        free(b);
    }
    for (int i = 0; i < 10; i++) {
        char *p = malloc(8);  /* @grown */
        p = realloc(p, 4096); /* @regrown */
        free(p);
    }
    for (int i = 0; i < 20; i++) {
        void *a = malloc(48); /* @paused */
        memtrace_disable();
        void *unseen = malloc(8); /* not recorded, but allocated after a */
        memtrace_enable();
        free(a);
        free(unseen);
    }
    sem_init(&to_worker, 0, 0);
    sem_init(&to_main, 0, 0);
    pthread_t thread;
    pthread_create(&thread, NULL, worker, NULL);
    for (int i = 0; i < 10; i++) {
        request = malloc(48); /* @request */
        sem_post(&to_worker);
        sem_wait(&to_main);
        free(reply);
        free(more);
    }
    pthread_join(thread, NULL);
    keep = malloc(100); /* @kept */
    void *c = calloc(4, 25); /* @zeroed */
    free(c);
    return 0;
}
