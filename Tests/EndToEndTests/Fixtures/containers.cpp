// containers: C++ standard containers, strings and libc filled by the lines below, whose
// allocations must be attributed to those lines, not to libstdc++, its headers or libc.
// Lines marked SITE are looked up by the tests; the sizes are libstdc++'s on x86-64.
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

struct Widget {
    long values[4];  // 32 bytes
};

struct Kept {  // 144 bytes
    std::vector<int> reserved;
    std::vector<int> grown;
    std::map<int, long> table;
    std::vector<std::string> names;
    std::shared_ptr<Widget> widget;
    char *copy;
};

static Kept *kept;

static void fill(Kept *k) {
    k->reserved.reserve(1000);  // SITE reserve (4000 bytes)
    for (int i = 0; i < 100; i++) k->grown.push_back(i);  // SITE grow (8 buffers, the last of 128 ints)
    for (int i = 0; i < 10; i++) k->table[i] = i;  // SITE map (10 nodes of 48 bytes)
    k->names.reserve(5);  // SITE names (5 strings of 32 bytes)
    for (int i = 0; i < 5; i++) k->names.push_back(std::string(100, 'x'));  // SITE strings (5 of 101 bytes)
    k->widget = std::make_shared<Widget>();  // SITE shared (the widget and its counts, 48 bytes)
    k->copy = strdup("hello, world");  // SITE strdup (13 bytes)
}

int main() {
    kept = new Kept();  // SITE kept
    fill(kept);
    return 0;
}
