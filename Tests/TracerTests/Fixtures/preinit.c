/* An allocation before libc is up: a function in the executable's
 * .preinit_array runs before libc's own initialiser, as every sanitizer
 * runtime's start does (and calls dlsym, which allocates).  The tracer starts
 * there, with no environment yet to read its settings from. */
#include <stdio.h>
#include <stdlib.h>

static void before_libc(int argc, char **argv, char **envp) {
    (void)argc, (void)argv, (void)envp;
    free(malloc(1));
}
__attribute__((section(".preinit_array"), used)) static void (*early)(int, char **, char **) = before_libc;

void *kept;

int main(void) {
    kept = malloc(123); /* @kept */
    puts("hello");
    return 0;
}
