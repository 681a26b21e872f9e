/* Stacks the unwinder's rules cannot describe, next to ones they can: an
 * allocation in a signal handler (the kernel's signal frame has its own
 * unwind description), one under a variable-length array (a frame located
 * through rbp), and a dlopen'ed library unloaded and loaded again. */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *in_handler;

static void on_signal(int sig) {
    (void)sig;
    in_handler = malloc(77); /* @in-handler */
}

__attribute__((noinline)) static void raise_from_here(void) {
    raise(SIGUSR1);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void *under_vla(int n) {
    char buffer[n];
    memset(buffer, 1, (size_t)n);
    void *p = malloc(55); /* @under-vla */
    ((char *)p)[0] = buffer[n - 1];
    return p;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGUSR1, &sa, NULL);
    raise_from_here();
    void *kept[3];
    for (int i = 0; i < 3; i++) kept[i] = under_vla(100 + 1000 * i);
    for (int round = 0; round < 2; round++) {
        void *h = dlopen("libsqlite3.so.0", RTLD_NOW);
        if (!h) return 1;
        void *(*sqlite_malloc)(int) = (void *(*)(int))dlsym(h, "sqlite3_malloc");
        void (*sqlite_free)(void *) = (void (*)(void *))dlsym(h, "sqlite3_free");
        if (sqlite_malloc && sqlite_free) sqlite_free(sqlite_malloc(40));
        dlclose(h);
    }
    printf("unwinding: %p %p %p %p\n", in_handler, kept[0], kept[1], kept[2]);
    return 0;
}
