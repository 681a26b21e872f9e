/*
 * A list whose head is lost: the head is definitely lost, the two nodes it
 * points to are indirectly lost. memcheck says
 * "96 (32 direct, 64 indirect) bytes in 1 blocks are definitely lost".
 *
 * EXPECT definite 32 1
 * EXPECT indirect 64 2
 */
#include "corpus.h"

struct node {
    struct node *next;
    char payload[24];
};

static NOINLINE struct node *make_list(void) {
    struct node *head = calloc(1, sizeof *head); /* SITE head */
    struct node *tail = head;
    for (int i = 0; i < 2; i++) {
        tail->next = calloc(1, sizeof *tail); /* SITE node */
        tail = tail->next;
    }
    return head;
}

static NOINLINE void lose_list(void) {
    struct node *list = make_list();
    list->payload[0] = 1;
}

int main(void) {
    lose_list();
    scrub_stack();
    return 0;
}
