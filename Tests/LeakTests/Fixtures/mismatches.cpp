/*
 * Allocates two arrays with new[] and releases them with delete, as a
 * single object, and releases everything else the right way: no leak, two
 * blocks released otherwise than allocated, at one pair of sites.
 */
struct Point {
    int x, y;
};

__attribute__((noinline)) static Point *make(int n) {
    return new Point[n]; /* SITE allocation */
}

__attribute__((noinline)) static void drop(Point *p) {
    delete p; /* SITE release */
}

int main() {
    for (int i = 0; i < 2; i++) drop(make(3));
    Point *right = make(4);
    delete[] right;
    return 0;
}
