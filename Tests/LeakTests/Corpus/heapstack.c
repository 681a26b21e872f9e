/*
 * A thread that never calls the allocator runs on a stack the program
 * allocated (a live block of 1 MiB) and holds a block there; main loses
 * another.  The scan reads that stack from its stack pointer to the end of
 * the block, not to the end of the heap around it.  memcheck agrees, and also
 * lists the thread's TLS vector, which pthread_create allocates here:
 *
 * EXPECT reachable 1048676 2
 * EXPECT definite 24 1
 * MEMCHECK reachable 1048676 2
 * MEMCHECK definite 24 1
 * MEMCHECK possible 272 1
 */
#include <pthread.h>
#include <unistd.h>

#include "corpus.h"

static void *volatile handoff;
static volatile int ready;

static void *work(void *unused) {
    (void)unused;
    void *volatile held = handoff;
    handoff = NULL;
    __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    for (;;) pause();
    (void)held;
}

static NOINLINE void start(void) {
    size_t size = 1 << 20;
    void *stack = malloc(size); /* SITE stack */
    handoff = malloc(100);      /* SITE held */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstack(&attr, stack, size);
    pthread_t t;
    pthread_create(&t, &attr, work, NULL);
    pthread_attr_destroy(&attr);
}

static NOINLINE void lose(void) {
    void *volatile lost = malloc(24); /* SITE lost */
    (void)lost;
}

int main(void) {
    start();
    while (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) usleep(1000);
    lose();
    scrub_stack();
    exit(0);
}
