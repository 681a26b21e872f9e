/*
 * A joined thread's stack, kept by glibc for the next thread, holds the only
 * pointer to a block the thread lost, as in joined.c; but this stack is
 * executable, as every thread's is in a program linked with -z execstack or
 * one that loaded a library asking for an executable stack: glibc maps them
 * rwx.  A dead thread's stack is no root (memcheck scans none), whatever its
 * permissions.
 *
 * EXPECT definite 4321 1
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/mman.h>

#include "corpus.h"

static NOINLINE void *lose(void *arg) {
    pthread_attr_t attr;
    void *stack;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        if (pthread_attr_getstack(&attr, &stack, &size) == 0)
            mprotect(stack, size, PROT_READ | PROT_WRITE | PROT_EXEC);
        pthread_attr_destroy(&attr);
    }
    void *volatile lost = malloc(4321); /* SITE lost */
    (void)lost;
    return arg;
}

int main(void) {
    pthread_t thread;
    pthread_create(&thread, NULL, lose, NULL);
    pthread_join(thread, NULL);
    return 0;
}
