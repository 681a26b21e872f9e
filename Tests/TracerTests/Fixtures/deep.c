/* A 40-deep recursion that allocates at the bottom, to test MEMTRACE_FRAMES. */
#include <stdio.h>
#include <stdlib.h>

static void *kept;

__attribute__((noinline)) static void descend(int n) {
    if (n == 0) {
        kept = malloc(777); /* @deep */
        return;
    }
    descend(n - 1);
    __asm__ volatile("" ::: "memory"); /* keep the call from becoming a jump */
}

int main(void) {
    descend(40);
    printf("deep: done\n");
    return 0;
}
