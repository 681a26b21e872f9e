/* memtrace.h from a program: works traced and untraced.
 * Usage: api SNAPSHOT-PATH */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "memtrace.h"

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    setvbuf(stdout, NULL, _IONBF, 0); /* no stdio buffer allocation in the figures */
    size_t current = 1, peak = 1;
    int tracing = memtrace_is_tracing();
    int rc = memtrace_get_traced_memory(&current, &peak);
    printf("tracing=%d get=%d\n", tracing, rc);
    void *big = malloc(500000); /* @big */
    free(big);
    void *small = malloc(1000); /* @small */
    size_t after_current = 0, after_peak = 0;
    memtrace_get_traced_memory(&after_current, &after_peak);
    if (tracing) printf("grew=%zu peak_grew=%d\n", after_current - current, after_peak >= current + 500000);
    memtrace_reset_peak();
    size_t reset_current = 0, reset_peak = 0;
    memtrace_get_traced_memory(&reset_current, &reset_peak);
    if (tracing) printf("reset_peak_is_current=%d\n", reset_peak == reset_current);
    errno = 0;
    rc = memtrace_snapshot(argv[1]);
    printf("snapshot=%d errno=%s\n", rc, rc == 0 ? "0" : errno == ENOSYS ? "ENOSYS" : "other");
    free(small);
    return 0;
}
