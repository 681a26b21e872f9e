/* A thread that takes snapshots through memtrace.h until it is cancelled
 * (deferred cancellation: at the snapshot's own open, write or close), over
 * and over; then the program's own snapshot and a normal exit.
 * Usage: cancelled DIRECTORY */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memtrace.h"

static char path[4096];

static void *snapshots(void *unused) {
    (void)unused;
    for (;;) {
        memtrace_snapshot(path);
        pthread_testcancel();
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    snprintf(path, sizeof path, "%s/thread.snap", argv[1]);
    void *kept = malloc(4321); /* @kept */
    for (int round = 0; round < 10; round++) {
        pthread_t thread;
        pthread_create(&thread, NULL, snapshots, NULL);
        usleep(5000);
        pthread_cancel(thread);
        pthread_join(thread, NULL);
    }
    char last[4200];
    snprintf(last, sizeof last, "%s/last.snap", argv[1]);
    printf("last=%d\n", memtrace_snapshot(last));
    free(kept);
    return 0;
}
