/* main ends with pthread_exit(): the process ends when its last thread does,
 * as glibc has it, and not never (the tracer's helper thread, which blocks
 * every signal, was counted as one of the program's: the process lived on
 * as a zombie that even SIGTERM could not end).
 *   mainexit alone    main loses 10 bytes, then pthread_exit
 *   mainexit worker   main keeps 30 bytes in a global and starts a worker,
 *                     then pthread_exit; the worker allocates 20 bytes it
 *                     keeps in a global, and returns */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static void *volatile kept_by_main, *volatile kept_by_worker;
static void *worker(void *arg) {
    usleep(50 * 1000);
    kept_by_worker = malloc(20);
    return arg;
}
int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "worker") == 0) {
        kept_by_main = malloc(30);
        pthread_t t;
        pthread_create(&t, NULL, worker, NULL);
    } else {
        void *volatile lost = malloc(10);
        (void)lost;
    }
    pthread_exit(NULL);
}
