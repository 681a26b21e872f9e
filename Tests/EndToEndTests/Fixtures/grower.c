/*
 * grower: holds one block of 500 bytes, writes its pid to the file "pid", then
 * keeps one more block of 1000 bytes every 20 ms (at most 2000 of them) until a
 * signal ends it. Used to test `memtrace watch PID`. Lines marked SITE are
 * looked up by the tests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void *held;
static void *kept[2000];

int main(void) {
    held = malloc(500); /* SITE held */
    FILE *out = fopen("pid.tmp", "w");
    if (!out) return 1;
    fprintf(out, "%d\n", (int)getpid());
    fclose(out);
    rename("pid.tmp", "pid");
    struct timespec pause = {0, 20 * 1000000L};
    for (int i = 0;; i++) {
        if (i < 2000) kept[i] = malloc(1000); /* SITE grow */
        nanosleep(&pause, NULL);
    }
}
