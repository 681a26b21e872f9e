/*
 * leaky: a C program with one known leak and one known growth, traced by
 * `make demo` and by the end-to-end tests.
 *
 *   make_list      allocates 1000 list nodes of 64 bytes and drops the list:
 *                  64000 bytes leaked, all from one line.
 *   record_event   keeps a 48-byte record for every event, 100 events a round
 *                  for 3 rounds: the heap grows by 4800 bytes a round.
 *   churn          allocates and frees 1000 blocks: nothing left behind.
 *
 * After each round it asks the tracer for a snapshot (memtrace.h), so
 * `memtrace diff` between two rounds shows the growth at record_event.
 * Run untraced, the snapshot calls do nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memtrace.h"

#define NODES 1000
#define ROUNDS 3
#define EVENTS_PER_ROUND 100

struct node {
    struct node *next;
    char payload[56];
};

static struct node *make_list(int n) {
    struct node *head = NULL;
    for (int i = 0; i < n; i++) {
        struct node *node = malloc(sizeof *node); /* the leak */
        memset(node->payload, 'x', sizeof node->payload);
        node->next = head;
        head = node;
    }
    return head;
}

struct history {
    char **events;
    size_t count;
};

static void record_event(struct history *h, int id) {
    char *event = malloc(48); /* the growth */
    snprintf(event, 48, "event %d", id);
    h->events[h->count++] = event;
}

static void churn(void) {
    for (int i = 0; i < 1000; i++) {
        char *scratch = malloc(100 + i % 50);
        scratch[0] = (char)i;
        free(scratch);
    }
}

int main(void) {
    struct history history = {calloc(ROUNDS * EVENTS_PER_ROUND, sizeof(char *)), 0};
    churn();
    struct node *list = make_list(NODES);
    printf("leaky: built a list of %d nodes and lost it\n", NODES);
    list = NULL;
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < EVENTS_PER_ROUND; i++) record_event(&history, round * EVENTS_PER_ROUND + i);
        memtrace_snapshot(NULL);
        printf("leaky: round %d, %zu events kept\n", round + 1, history.count);
    }
    (void)list;
    return 0;
}
