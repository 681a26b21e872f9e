/* A heap that grows for 300 ms, 64 bytes at a time, every block kept. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

int main(void) {
    size_t count = 0, capacity = 1024;
    void **kept = malloc(capacity * sizeof *kept);
    for (double start = now(); now() - start < 0.3;) {
        if (count == capacity) kept = realloc(kept, (capacity *= 2) * sizeof *kept);
        kept[count++] = malloc(64); /* @grow */
    }
    printf("%s\n", count > 1000 ? "grew" : "too few");
    return 0;
}
