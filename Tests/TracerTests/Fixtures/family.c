/* Every entry point of the malloc family, each on its own marked line, with
 * distinct sizes so the test can find each site.  Blocks marked "kept" stay
 * live until exit; the others are released. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

static void *kept[16];

int main(void) {
    int n = 0;
    kept[n++] = malloc(1001);                  /* @malloc */
    kept[n++] = calloc(7, 143);                /* @calloc */
    void *r = realloc(NULL, 1003);             /* @realloc-new */
    r = realloc(r, 5003);                      /* @realloc-grow */
    kept[n++] = r;
    kept[n++] = reallocarray(NULL, 8, 126);    /* @reallocarray */
    void *pm = NULL;
    if (posix_memalign(&pm, 64, 1005) != 0) return 1; /* @posix_memalign */
    kept[n++] = pm;
    kept[n++] = aligned_alloc(128, 1024);      /* @aligned_alloc */
    kept[n++] = memalign(32, 1007);            /* @memalign */
    kept[n++] = valloc(1008);                  /* @valloc */
    kept[n++] = pvalloc(1009);                 /* @pvalloc */
    void *gone = malloc(2222);                 /* @freed */
    errno = 4242;
    free(gone);
    if (errno != 4242) {
        printf("free changed errno to %d\n", errno);
        return 3;
    }
    if (malloc_usable_size(kept[0]) < 1001) return 4;
    void *shrink = malloc(3000);               /* @realloc-shrink-origin */
    shrink = realloc(shrink, 0);               /* glibc: frees and returns NULL */
    (void)shrink;
    printf("family: %d blocks kept\n", n);
    return 0;
}
