/* An exit handler that joins a thread which calls exit() itself; main ends
 * through exit(0), or by returning with "return".  Usage: exitjoin [return] */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_t worker;
static volatile int stop;
static void *kept;

static void *work(void *unused) {
    (void)unused;
    while (!stop) usleep(1000);
    exit(3);
}

static void join_worker(void) {
    stop = 1;
    pthread_join(worker, NULL);
}

int main(int argc, char **argv) {
    kept = malloc(1234); /* @kept */
    pthread_create(&worker, NULL, work, NULL);
    atexit(join_worker);
    if (argc > 1 && strcmp(argv[1], "return") == 0) return 0;
    exit(0);
}
