/* Ends by abort().  aborting MODE:
 *   abort       keeps 600 bytes, then calls abort()
 *   doublefree  frees a block twice: glibc's free finds it in its cache and
 *               aborts ("free(): double free detected in tcache 2") */
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    char *kept = malloc(600);
    if (argc > 1 && strcmp(argv[1], "doublefree") == 0) {
        char *twice = malloc(64);
        free(twice);
        free(twice);
    }
    abort();
    return kept != NULL;
}
