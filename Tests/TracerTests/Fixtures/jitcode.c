/* Where a JIT keeps its code: memory both writable and executable, here the
 * only place that points to a block (a JVM's code cache holds its compiled
 * methods' metadata so).  One mapping is made rwx at once; the other is a
 * reservation without access of which one page is made rwx later, as the JVM
 * commits its code heap.  The first is 128 MiB, of which one page is touched:
 * a mapping that large is read page by page where it has contents.  A block
 * whose only pointer lies in memory that is readable but not writable is not
 * scanned, as memcheck has it, and one that nothing points to is lost. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

int main(void) {
    int rwx = PROT_READ | PROT_WRITE | PROT_EXEC;
    char *code = mmap(NULL, 128 << 20, rwx, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    char *heap = mmap(NULL, 1 << 24, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    char *sealed = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED || heap == MAP_FAILED || sealed == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    char *page = heap + (1 << 20);
    if (mmap(page, 4096, rwx, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    *(void **)(code + (100 << 20) + 1000) = malloc(111); /* @code */
    *(void **)(page + 64) = malloc(222);     /* @committed */
    *(void **)(sealed + 8) = malloc(333);    /* @readonly */
    mprotect(sealed, 4096, PROT_READ);
    void *lost = malloc(444);                /* @lost */
    lost = NULL;
    puts("done");
    return 0;
}
