// Blocks of the nothrow operator new, released by the nothrow operator delete (as a constructor
// that throws inside `new (std::nothrow) T` does). Preloaded before the tracer, ownmalloc.c
// has the first and not the second, so the tracer's delete gets its blocks.
#include <cstdio>
#include <new>

int main() {
    int *one = new (std::nothrow) int(7);
    int *four = new (std::nothrow) int[4];
    operator delete(one, std::nothrow);
    operator delete[](four, std::nothrow);
    std::puts("released");
    return 0;
}
