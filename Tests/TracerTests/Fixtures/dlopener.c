/* Allocations made by code in a library loaded with dlopen, then unloaded. */
#include <dlfcn.h>
#include <stdio.h>

int main(void) {
    void *h = dlopen("libsqlite3.so.0", RTLD_NOW);
    if (!h) return 1;
    int (*open_db)(const char *, void **) = (int (*)(const char *, void **))dlsym(h, "sqlite3_open");
    void *db = NULL;
    if (open_db(":memory:", &db) != 0) return 2;
    printf("dlopener: opened\n");
    return 0; /* db and the library stay: their blocks are live at exit */
}
