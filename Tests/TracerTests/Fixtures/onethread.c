/* A program of one thread, then of two.  While it has one, the tracer's
 * helper thread writes snapshots (MEMTRACE_INTERVAL, and SIGUSR2 the program
 * sends itself) as the program allocates without taking a lock (glibc's
 * single-thread malloc, and the tracer's shards: tracer.h); then a thread of
 * its own makes it two, and does the allocating.  Prints what glibc believes
 * at each stage and how many threads the process has. */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/single_threaded.h>

#define ROUNDS 400
#define PER_ROUND 50
#define CHURN 2000
#define WORKER_KEPT 300

static void *kept[ROUNDS * PER_ROUND];
static void *worker_kept[WORKER_KEPT];

static int threads(void) {
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* Blocks the program's thread made just before the worker started, which the
 * worker frees: they were still young (tracer.h) when the program became two. */
#define HANDED 100
static void *handed[HANDED];

/* The worker then does all the allocating while the program's thread waits
 * for it: it records without locks in turn (tracer.h, the owner), while the
 * helper goes on writing snapshots. */
#define WORKER_CHURN 300000

static void *worker(void *arg) {
    for (int i = 0; i < HANDED; i++) free(handed[i]);
    for (int i = 0; i < WORKER_KEPT; i++) {
        worker_kept[i] = malloc(48); /* @worker */
        for (int k = 0; k < WORKER_CHURN / WORKER_KEPT; k++) free(malloc(40 + k % 100)); /* @worker-churn */
    }
    return arg;
}

int main(int argc, char **argv) {
    (void)argv;
    printf("single=%d threads=%d\n", __libc_single_threaded, threads());
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < PER_ROUND; i++) kept[r * PER_ROUND + i] = malloc(16 + 8 * (i % 5)); /* @kept */
        for (int i = 0; i < CHURN; i++) free(malloc(24 + i % 200)); /* @churn */
        if (argc > 1 && r % 40 == 0) raise(SIGUSR2); /* asks the tracer for a snapshot */
    }
    printf("single=%d\n", __libc_single_threaded);
    for (int i = 0; i < HANDED; i++) handed[i] = malloc(72); /* @handed */
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_join(t, NULL);
    printf("single=%d\n", __libc_single_threaded);
    return 0;
}
