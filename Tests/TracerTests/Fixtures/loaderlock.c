/* A program of one thread that walks the loaded modules (dl_iterate_phdr)
 * and loads and unloads a library (dlopen, dlclose) between allocations,
 * while the tracer's helper writes snapshots.  Each of those takes the
 * loader's lock, a mutex glibc takes without atomics while it believes the
 * program has one thread; the helper once read the module list under it as
 * well, and the program hung or aborted in glibc's mutex code within a
 * second.  Given a number of milliseconds, the program then sleeps that
 * long: the snapshots written meanwhile, which it cannot answer, carry the
 * module list read last. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ROUNDS 200000

static int count(struct dl_phdr_info *info, size_t size, void *data) {
    (void)info;
    (void)size;
    ++*(long *)data;
    return 0;
}

int main(int argc, char **argv) {
    long modules = 0, loaded = 0;
    for (long n = 0; n < ROUNDS; n++) {
        dl_iterate_phdr(count, &modules);
        free(malloc(16 + n % 64));
        if (n % 100 == 0) {
            void *libm = dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL);
            if (libm) loaded++, dlclose(libm);
        }
    }
    printf("loaderlock: %d rounds, %ld loads\n", ROUNDS, loaded);
    fflush(stdout);
    if (argc > 1) {
        long ms = atol(argv[1]);
        struct timespec idle = {ms / 1000, ms % 1000 * 1000000};
        while (nanosleep(&idle, &idle) != 0) {
        }
    }
    return modules > 0 ? 0 : 1;
}
