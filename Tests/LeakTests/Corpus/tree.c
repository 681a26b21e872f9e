/*
 * Two binary trees of three levels (7 nodes each): one lost, one held by a
 * global. The lost tree's root is definitely lost and its six other nodes
 * indirectly lost; the held tree is reachable, every node of it.
 *
 * EXPECT definite 48 1
 * EXPECT indirect 288 6
 * EXPECT reachable 280 7
 */
#include "corpus.h"

struct tree {
    struct tree *left, *right;
    char payload[32];
};

struct small_tree {
    struct small_tree *left, *right;
    char payload[24];
};

static void *held;

static NOINLINE struct tree *make_tree(int depth) {
    if (depth == 0) return NULL;
    struct tree *node = calloc(1, sizeof *node); /* SITE lost-tree */
    node->left = make_tree(depth - 1);
    node->right = make_tree(depth - 1);
    return node;
}

static NOINLINE struct small_tree *make_small_tree(int depth) {
    if (depth == 0) return NULL;
    struct small_tree *node = calloc(1, sizeof *node); /* SITE held-tree */
    node->left = make_small_tree(depth - 1);
    node->right = make_small_tree(depth - 1);
    return node;
}

static NOINLINE void build(void) {
    struct tree *lost = make_tree(3);
    lost->payload[0] = 1;
    KEEP(held, make_small_tree(3));
}

int main(void) {
    build();
    scrub_stack();
    return 0;
}
