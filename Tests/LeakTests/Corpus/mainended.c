/*
 * main ends with pthread_exit() and a worker ends the process with exit().
 * What main's thread left stays a root: the argument and environment vectors
 * at the top of its stack, and its static TLS. (Before, the process did not
 * end at all when main was the last of the program's threads: the tracer's
 * helper thread counted as one.)
 *
 * memcheck agrees, and also lists the worker's TLS vector, which
 * pthread_create allocates here and the tracer leaves to the loader:
 *
 * EXPECT reachable 165 3
 * MEMCHECK reachable 165 3
 * MEMCHECK possible 288 1
 */
#include <pthread.h>
#include <unistd.h>

#include "corpus.h"

extern char **environ;
static __thread void *kept_in_tls;

static NOINLINE void *worker(void *arg) {
    usleep(200 * 1000);
    exit(0);
    return arg;
}

int main(int argc, char **argv) {
    (void)argc;
    argv[0] = malloc(44); /* SITE argv */
    environ[0] = malloc(55); /* SITE environ */
    kept_in_tls = malloc(66); /* SITE tls */
    pthread_t thread;
    pthread_create(&thread, NULL, worker, NULL);
    pthread_exit(NULL);
}
