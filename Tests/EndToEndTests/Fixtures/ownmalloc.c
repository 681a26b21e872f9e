/* A program with an allocator of its own, as rustc has (jemalloc, linked in
 * and exported): the loader binds every call to malloc, free, calloc and
 * realloc in the process, libc's included, to these, which come before any
 * preloaded library's.  A bump allocator over a static arena: glibc's free
 * would abort on its blocks.
 *
 * Built as a library too (RunTests), and preloaded before the tracer
 * (LD_PRELOAD="libfirstmalloc.so libtrace.so", as a user might put mimalloc
 * first): then only what it lacks reaches the tracer, here as in mimalloc the
 * nothrow operator delete.  Preloaded after the tracer, it is the allocator
 * the tracer forwards to, neither glibc's nor jemalloc. */
#include <stdio.h>
#include <string.h>

static _Alignas(16) char arena[1 << 20];
static size_t used;

void *malloc(size_t size) {
    size = (size + 15) & ~(size_t)15;
    if (size > sizeof arena - used - 16) return NULL;
    char *p = arena + used + 16;
    memcpy(p - 16, &size, sizeof size);
    used += size + 16;
    return p;
}

void free(void *p) { (void)p; }

void *calloc(size_t n, size_t size) {
    if (size && n > sizeof arena / size) return NULL;
    void *p = malloc(n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

void *realloc(void *old, size_t size) {
    void *p = malloc(size);
    if (p && old) {
        size_t was;
        memcpy(&was, (char *)old - 16, sizeof was);
        memcpy(p, old, was < size ? was : size);
    }
    return p;
}

size_t malloc_usable_size(void *p) {
    size_t size = 0;
    if (p) memcpy(&size, (char *)p - 16, sizeof size);
    return size;
}

/* operator new(size_t, const std::nothrow_t &) and new[]: no delete of that form. */
void *_ZnwmRKSt9nothrow_t(size_t size, const void *nothrow) {
    (void)nothrow;
    return malloc(size ? size : 1);
}

void *_ZnamRKSt9nothrow_t(size_t size, const void *nothrow) {
    (void)nothrow;
    return malloc(size ? size : 1);
}

int main(void) {
    char *copy = strdup("allocated by the program's own malloc");
    puts(copy);
    free(copy);
    return 0;
}
