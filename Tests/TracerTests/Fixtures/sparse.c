/* A reservation of 512 GiB, as language runtimes make (Go's heap arenas, a
 * JVM's, wasm's guard regions), of which two pages are ever touched: each
 * holds the only pointer to a block.  And one block nothing points to. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

int main(void) {
    size_t size = (size_t)512 << 30;
    char *reserved = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (reserved == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    *(void **)(reserved + 12345 * 4096 + 8) = malloc(777);  /* @inside */
    *(void **)(reserved + size - 8) = malloc(888);           /* @last */
    void *lost = malloc(555);                                /* @lost */
    lost = NULL;
    puts("done");
    return 0;
}
