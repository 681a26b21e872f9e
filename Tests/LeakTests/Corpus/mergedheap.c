/*
 * A worker loses a block in its glibc arena, then the program maps 128 MiB
 * right below that arena's heap, where the kernel merges the two mappings
 * into one. The heap's bookkeeping (its bins name the chunk after the block)
 * is no root, found at its 64 MiB-aligned start inside the larger mapping,
 * whose pages the scan reads only where they are touched.
 *
 * EXPECT definite 1000 1
 */
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>

#include "corpus.h"

#define HEAP_MAX (64ul << 20)
static uintptr_t heap;

static NOINLINE void *worker(void *arg) {
    void *volatile lost = malloc(1000); /* SITE lost */
    memset(lost, 1, 1000);
    heap = (uintptr_t)lost & ~(HEAP_MAX - 1);
    lost = NULL;
    return arg;
}

int main(void) {
    pthread_t thread;
    pthread_create(&thread, NULL, worker, NULL);
    pthread_join(thread, NULL);
    void *below = mmap((void *)(heap - 2 * HEAP_MAX), 2 * HEAP_MAX, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (below != MAP_FAILED) memset(below, 0, 4096);
    scrub_stack();
    return 0;
}
