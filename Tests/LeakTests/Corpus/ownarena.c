/*
 * The program's own arena, 64 MiB aligned as allocators align theirs, with a
 * header ({base, next, used, size}) that reads a little like a glibc heap's,
 * holds the only pointer to a block: it is a root, not glibc's bookkeeping.
 *
 * EXPECT reachable 4000 1
 */
#include <stdint.h>
#include <sys/mman.h>

#include "corpus.h"

struct arena {
    char *base;
    struct arena *next;
    size_t used, size;
    void *slots[];
};

static NOINLINE void fill(struct arena *a, size_t size) {
    a->base = (char *)a + sizeof *a + 8;
    a->next = NULL;
    a->size = size;
    a->slots[0] = malloc(4000); /* SITE held */
    memset(a->slots[0], 1, 4000);
    a->used = sizeof *a + 8;
}

int main(void) {
    size_t align = 64ul << 20, size = 1 << 20;
    char *raw = mmap(NULL, 2 * align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw == MAP_FAILED) return 1;
    char *start = (char *)(((uintptr_t)raw + align - 1) & ~(align - 1));
    if (start > raw) munmap(raw, (size_t)(start - raw));
    munmap(start + size, (size_t)(raw + 2 * align - (start + size)));
    fill((struct arena *)start, size);
    scrub_stack();
    return 0;
}
