/* A known distribution of allocations for sampling mode: three sites of very
 * different block sizes, all kept, and one site whose blocks are all freed;
 * in between, blocks allocated while recording is paused, which no estimate
 * may include. */
#include <stdio.h>
#include <stdlib.h>

#include "memtrace.h"

static void *small[100000], *medium[2000], *large[10], *paused[50000];

int main(void) {
    for (int i = 0; i < 100000; i++) small[i] = malloc(64);      /* @small */
    for (int i = 0; i < 2000; i++) medium[i] = malloc(4000);     /* @medium */
    for (int i = 0; i < 10; i++) large[i] = malloc(1 << 20);     /* @large */
    memtrace_disable();
    for (int i = 0; i < 50000; i++) paused[i] = malloc(200);     /* @paused */
    memtrace_enable();
    for (int i = 0; i < 200000; i++) free(malloc(128));          /* @transient */
    printf("sampled: done\n");
    return 0;
}
