/*
 * Blocks lost by threads that have ended: a worker loses one block (its only
 * pointer left in its own frame) and returns another to main, which frees it;
 * main joins it, then starts and joins a second worker that loses a block in
 * a list (head definite, node indirect). glibc keeps a joined thread's stack
 * mapped, to give it to the next thread, with the pointers the thread left
 * there: as roots they kept these blocks reachable, where memcheck, which
 * scans no dead thread's stack, calls them lost. (The second worker's arena
 * heap, when the kernel merged it with the mapping below it, was scanned too:
 * the arena's pointer to the chunk after the 1000-byte block made it
 * "possibly lost" one run in three.)
 *
 * EXPECT definite 1016 2
 * EXPECT indirect 48 1
 */
#include <pthread.h>

#include "corpus.h"

struct node {
    struct node *next;
    char payload[8];
};

static NOINLINE void *lose_one(void *arg) {
    void *volatile lost = malloc(1000); /* SITE worker */
    (void)lost;
    return malloc(32); /* SITE returned */
}

static NOINLINE void *lose_list(void *arg) {
    struct node *volatile head = malloc(sizeof *head); /* SITE head */
    head->next = malloc(48); /* SITE next */
    return arg;
}

static NOINLINE void run(void *(*worker)(void *)) {
    pthread_t thread;
    void *result = NULL;
    pthread_create(&thread, NULL, worker, NULL);
    pthread_join(thread, &result);
    free(result);
}

int main(void) {
    run(lose_one);
    run(lose_list);
    scrub_stack();
    return 0;
}
