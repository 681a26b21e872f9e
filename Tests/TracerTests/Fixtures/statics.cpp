// Memory released late: by an atexit handler and by a static destructor.
// The exit snapshot is taken after both, so neither block is live in it.
#include <cstdio>
#include <cstdlib>
#include <vector>

static void *released_by_atexit;

struct Holder {
    std::vector<long> values;
    Holder() : values(1000) {} /* @static */
    ~Holder() { std::printf("statics: destructor ran\n"); }
};

static Holder holder;

static void release() { std::free(released_by_atexit); }

int main() {
    released_by_atexit = std::malloc(5555); /* @atexit */
    std::atexit(release);
    std::setvbuf(stdout, nullptr, _IONBF, 0);
    std::printf("statics: %zu values\n", holder.values.size());
    return 0;
}
