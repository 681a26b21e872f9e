// Blocks released otherwise than allocated, each on a line of its own, one
// deleted through a base class without a virtual destructor (the sized delete
// names the base's size), and as many released the right way, which must not
// count.
#include <cstdio>
#include <cstdlib>
#include <new>
#include <pthread.h>

#include "memtrace.h"

static int *shared[5];

struct Base {
    int id;
};
struct Derived : Base {
    long more[4];
};

__attribute__((noinline)) static void new_array_free() {
    int *p = new int[4]; /* @newarray */
    std::free(p);        /* @free */
}

__attribute__((noinline)) static void new_array_delete() {
    long *p = new long[3]; /* @newlong */
    delete p; /* @delete */
}

__attribute__((noinline)) static void malloc_delete() {
    int *p = static_cast<int *>(std::malloc(40)); /* @malloc */
    delete p;                                      /* @deletemalloc */
}

__attribute__((noinline)) static void new_delete_array() {
    char *p = new char; /* @new */
    *p = 1;
    delete[] p; /* @deletearray */
}

__attribute__((noinline)) static void new_array_realloc() {
    char *p = new char[10]; /* @newchars */
    p = static_cast<char *>(std::realloc(p, 100)); /* @realloc */
    std::free(p);
}

__attribute__((noinline)) static void delete_through_base() {
    Base *p = new Derived(); /* @derived */
    delete p;                /* @base */
}

__attribute__((noinline)) static void matched() {
    int *a = new int(1);
    delete a;
    int *b = new int[9];
    delete[] b;
    void *c = std::malloc(5);
    c = std::realloc(c, 50);
    std::free(c);
    auto *d = new (std::align_val_t(64)) double[3];
    ::operator delete[](d, std::align_val_t(64));
    int *e = new (std::nothrow) int(2);
    delete e;
}

static void *release_shared(void *) {
    for (int *p : shared) std::free(p); /* @thread */
    return nullptr;
}

int main() {
    for (int i = 0; i < 3; i++) new_array_free();
    new_array_delete();
    malloc_delete();
    new_delete_array();
    new_array_realloc();
    delete_through_base();
    for (int i = 0; i < 100; i++) matched();
    // Allocated here, released with free by another thread.
    for (int *&p : shared) p = new int(7); /* @shared */
    pthread_t thread;
    pthread_create(&thread, nullptr, release_shared, nullptr);
    pthread_join(thread, nullptr);
    std::printf("mismatches: %ld\n", memtrace_mismatches());
}
