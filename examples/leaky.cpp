// leaky-cpp: the C++ counterpart of leaky.c, allocating with new and new[]
// so that the tracer's coverage of C++ operators is checked.
//
//   Tree::grow       leaks 500 nodes of 32 bytes (new Node), never deleted.
//   Journal::append  keeps a 40-byte buffer (new char[40]) per entry,
//                    100 entries a round for 3 rounds.
//   scratch          new/delete pairs that leave nothing behind.
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "memtrace.h"

struct Node {
    Node *left;
    Node *right;
    long value;
    long pad;
};
static_assert(sizeof(Node) == 32, "Node is 32 bytes");

class Tree {
public:
    void grow(int n) {
        for (int i = 0; i < n; i++) {
            Node *node = new Node{root_, nullptr, i, 0}; // the leak
            root_ = node;
        }
    }
    void forget() { root_ = nullptr; }

private:
    Node *root_ = nullptr;
};

class Journal {
public:
    Journal() { entries_.reserve(300); }
    void append(int id) {
        char *entry = new char[40]; // the growth
        std::snprintf(entry, 40, "entry %d", id);
        entries_.push_back(entry);
    }
    size_t size() const { return entries_.size(); }

private:
    std::vector<char *> entries_;
};

static void scratch() {
    for (int i = 0; i < 500; i++) {
        auto buffer = std::make_unique<char[]>(64 + i % 16);
        buffer[0] = static_cast<char>(i);
    }
}

int main() {
    Journal journal;
    scratch();
    Tree tree;
    tree.grow(500);
    tree.forget();
    std::printf("leaky-cpp: grew a tree of 500 nodes and forgot it\n");
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 100; i++) journal.append(round * 100 + i);
        memtrace_snapshot(nullptr);
        std::printf("leaky-cpp: round %d, %zu entries kept\n", round + 1, journal.size());
    }
    return 0;
}
