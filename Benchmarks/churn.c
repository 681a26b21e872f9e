/*
 * The allocation churn workload of `make bench`: OPS malloc/realloc/free
 * operations of random sizes, each made at a random stack depth from 1 to 25,
 * over a pool of live slots.  Deterministic (fixed seed), so every run makes
 * the same calls.
 *
 * Usage: churn [OPS] [THREADS]   (default 1000000 1; each thread does OPS)
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SLOTS 4096

struct state {
    uint64_t rng;
    void *slots[SLOTS];
    uint64_t checksum;
};

static inline uint64_t next(struct state *s) {
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return s->rng;
}

static size_t pick_size(struct state *s) {
    uint64_t r = next(s);
    switch (r & 7) { /* mostly small, some medium, a few large */
    case 0: return 4096 + (r >> 8) % 60000;
    case 1: case 2: return 256 + (r >> 8) % 2048;
    default: return 8 + (r >> 8) % 248;
    }
}

static void operate(struct state *s) {
    uint64_t r = next(s);
    size_t i = (r >> 3) % SLOTS;
    if (!s->slots[i]) {
        s->slots[i] = malloc(pick_size(s));
        ((char *)s->slots[i])[0] = 1;
    } else if ((r & 3) == 0) {
        s->slots[i] = realloc(s->slots[i], pick_size(s));
        s->checksum += ((char *)s->slots[i])[0];
    } else {
        free(s->slots[i]);
        s->slots[i] = NULL;
    }
}

/* Two mutually recursive functions give stacks whose shape depends on the path. */
__attribute__((noinline)) static void down_b(struct state *s, int depth);
__attribute__((noinline)) static void down_a(struct state *s, int depth) {
    if (depth <= 1) operate(s);
    else if (depth & 1) down_b(s, depth - 1);
    else down_a(s, depth - 1);
    __asm__ volatile("" ::: "memory");
}
__attribute__((noinline)) static void down_b(struct state *s, int depth) {
    if (depth <= 1) operate(s);
    else down_a(s, depth - 1);
    __asm__ volatile("" ::: "memory");
}

static long ops = 1000000;

static void *run(void *arg) {
    struct state *s = calloc(1, sizeof *s);
    s->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)arg;
    for (long k = 0; k < ops; k++) down_a(s, 1 + (int)(next(s) % 25));
    for (int i = 0; i < SLOTS; i++) free(s->slots[i]);
    uint64_t sum = s->checksum;
    free(s);
    return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv) {
    if (argc > 1) ops = atol(argv[1]);
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    pthread_t t[64];
    if (threads < 1 || threads > 64) return 2;
    uint64_t total = 0;
    for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, run, (void *)(uintptr_t)(i + 1));
    for (int i = 0; i < threads; i++) {
        void *r;
        pthread_join(t[i], &r);
        total += (uint64_t)(uintptr_t)r;
    }
    printf("churn: %ld ops x %d threads, checksum %llu\n", ops, threads, (unsigned long long)total);
    return 0;
}
