/* Blocks whose record the tracer keeps in their last 8 bytes (inblock.c):
 * the program writes every byte malloc_usable_size says it may, grows blocks
 * with realloc, takes a snapshot (which moves the records into the live
 * table) and frees blocks from before and after it.  Prints whether each
 * usable size covered the request, and a sum of the blocks' contents, the
 * same traced and untraced, and the usable size of a 24-byte block.
 * With "turns", threads take turns allocating first, until no thread owns
 * the tracer's lock-free sections (tracer.h), and other threads free the
 * main thread's blocks.
 * Usage: inblock SNAPSHOT-PATH [turns] */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memtrace.h"

#define SIZES 300
static unsigned char *kept[SIZES], *freed[SIZES], *grown[SIZES], *zeroed[SIZES], *late[SIZES];
static int short_usable;

static size_t size_of(int i) { return i < 256 ? (size_t)i + 1 : (size_t)4096 << (i - 256) % 8; }

/* Fills all the block may hold with `byte`. */
static unsigned char *fill(unsigned char *p, size_t asked, int byte) {
    size_t usable = malloc_usable_size(p);
    if (usable < asked) short_usable++;
    memset(p, byte, usable);
    return p;
}

static unsigned long sum(unsigned char **blocks, int n) {
    unsigned long s = 0;
    for (int i = 0; i < n; i++)
        if (blocks[i]) s += blocks[i][0] + blocks[i][size_of(i) - 1];
    return s;
}

static void *turn(void *unused) {
    (void)unused;
    free(malloc(16)); /* @turn */
    return NULL;
}

static void *free_even(void *unused) {
    (void)unused;
    for (int i = 0; i < SIZES; i += 2) free(freed[i]);
    return NULL;
}

static void *free_odd(void *unused) {
    (void)unused;
    for (int i = 1; i < SIZES; i += 2) free(freed[i]);
    return NULL;
}

static int turns;

/* Runs `fn` on a thread of its own with "turns", else on this one. */
static void run(void *(*fn)(void *)) {
    pthread_t t;
    if (!turns) fn(NULL);
    else if (pthread_create(&t, NULL, fn, NULL) == 0) pthread_join(t, NULL);
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    setvbuf(stdout, NULL, _IONBF, 0);
    turns = argc > 2 && strcmp(argv[2], "turns") == 0;
    for (int i = 0; turns && i < 20; i++) run(turn);
    for (int i = 0; i < SIZES; i++) {
        kept[i] = fill(malloc(size_of(i)), size_of(i), 1);        /* @kept */
        freed[i] = fill(malloc(size_of(i)), size_of(i), 2);       /* @freed */
        grown[i] = fill(malloc(size_of(i) / 2 + 1), size_of(i) / 2 + 1, 3); /* @grown-first */
        zeroed[i] = calloc(size_of(i), 1);                        /* @zeroed */
        for (size_t k = 0; k < size_of(i); k++)
            if (zeroed[i][k]) return 3;
        fill(zeroed[i], size_of(i), 0);
    }
    run(free_even); /* before the snapshot */
    for (int i = 0; i < SIZES; i++) grown[i] = fill(realloc(grown[i], size_of(i)), size_of(i), 4); /* @grown */
    memtrace_snapshot(argv[1]);
    run(free_odd); /* after it: their records were moved */
    for (int i = 0; i < SIZES; i++) {
        late[i] = fill(malloc(size_of(i)), size_of(i), 5); /* @late */
        if (i % 3 == 0) {
            free(late[i]);
            late[i] = NULL;
        }
    }
    for (int i = 0; i < SIZES; i++) free(zeroed[i]);
    printf("short=%d sum=%lu\n", short_usable, sum(kept, SIZES) + sum(grown, SIZES) + sum(late, SIZES));
    void *probe = malloc(24);
    printf("usable24=%zu\n", malloc_usable_size(probe));
    free(probe);
    return 0;
}
