/* Ends by abort(), whose SIGABRT the tracer stands in for: the snapshot is
 * written, then the aborting thread (not the tracer's) ends the process, so
 * that a core shows that thread.  aborts MODE:
 *   main      keeps 5151 bytes, then calls abort()
 *   thread    keeps 5151 bytes; a second thread keeps 777 bytes, prints its
 *             thread id and calls abort()
 *   badalloc  keeps 5151 bytes, then news 64 MiB arrays until operator new
 *             throws std::bad_alloc, which nothing catches (run it under an
 *             address-space limit) */
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <pthread.h>
#include <unistd.h>
#include <vector>

static void *worker(void *) {
    void *kept = malloc(777); /* @worker */
    printf("aborting thread %ld\n", (long)gettid());
    fflush(stdout);
    abort();
    return kept;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "main";
    void *kept = malloc(5151); /* @kept */
    if (strcmp(mode, "main") == 0) abort();
    if (strcmp(mode, "thread") == 0) {
        pthread_t thread;
        pthread_create(&thread, nullptr, worker, nullptr);
        pthread_join(thread, nullptr);
    }
    if (strcmp(mode, "badalloc") == 0) {
        std::vector<char *> arrays;
        arrays.reserve(1024);
        for (;;) arrays.push_back(new char[64 << 20]); /* @arrays */
    }
    free(kept);
    return 0;
}
