// A C++ program that leaks nothing of its own but makes libstdc++ allocate what
// it keeps until exit: the emergency exception pool, iostreams, the locale,
// thread-exit handlers. With the built-in suppressions, memtrace check reports
// nothing here, of any kind.
//
// EXPECT clean
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

struct Tracked {
    std::string name;
    ~Tracked() {}
};

static thread_local Tracked per_thread{"a name longer than the small-string buffer"};

static int parse(const std::string &text) {
    if (text.empty()) throw std::invalid_argument("empty input is not a number, as anyone knows");
    return std::stoi(text);
}

int main() {
    std::ios::sync_with_stdio(false);
    std::map<std::string, std::vector<int>> table;
    for (int i = 0; i < 100; i++) table["key number " + std::to_string(i)].push_back(i);
    try {
        parse("");
    } catch (const std::exception &error) {
        std::cerr << "clean-cxx: caught " << error.what() << "\n";
    }
    std::ostringstream out;
    out.imbue(std::locale::classic());
    out << "clean-cxx: " << table.size() << " keys, " << parse("42") << "\n";
    std::cout << out.str();
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; i++) threads.emplace_back([] { per_thread.name += " and more"; });
    for (auto &thread : threads) thread.join();
    auto shared = std::make_shared<std::string>("shared, then released");
    std::cout << *shared << std::endl;
    return 0;
}
