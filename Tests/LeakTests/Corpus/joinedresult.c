/*
 * Results of ended threads. One thread's result is collected by pthread_join
 * and dropped: lost, as memcheck says, though the thread's control block
 * (glibc keeps it, with the result, in its cache) still names it. Another
 * thread, made without a guard page (as the JVM makes its threads), loses a
 * block its stack alone named, and is joined: its idle stack is no root
 * either. A third thread's result was never collected: reachable (unjoined.c).
 *
 * EXPECT definite 200 2
 */
#include <pthread.h>

#include "corpus.h"

static NOINLINE void *give(void *arg) {
    (void)arg;
    return malloc(77); /* SITE result */
}

static NOINLINE void *lose(void *arg) {
    void *volatile lost = malloc(123); /* SITE lost */
    (void)lost;
    return arg;
}

int main(void) {
    pthread_t thread;
    void *result = NULL;
    pthread_create(&thread, NULL, give, NULL);
    pthread_join(thread, &result);
    result = NULL;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setguardsize(&attr, 0);
    pthread_create(&thread, &attr, lose, NULL);
    pthread_join(thread, NULL);
    pthread_attr_destroy(&attr);
    scrub_stack();
    return 0;
}
