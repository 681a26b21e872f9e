// widgets: C++ allocations through operator new and new[], which the report
// must attribute to the lines below, not to libstdc++ or the tracer.
#include <cstdlib>

struct Widget {
    long values[5];  // 40 bytes
};

static Widget *widgets[10];
static int *numbers;

static void make_widgets() {
    for (int i = 0; i < 10; i++) widgets[i] = new Widget();  // SITE widget
}

static void make_numbers() {
    numbers = new int[25];  // SITE numbers
}

int main() {
    make_widgets();
    make_numbers();
    return 0;
}
