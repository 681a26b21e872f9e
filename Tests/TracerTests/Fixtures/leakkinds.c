/* One block of each leak kind, as valgrind's memcheck names them:
 *   lose_list  a 3-node list whose head is lost: 1 definite, 2 indirect
 *   cycle      two blocks pointing at each other, unreachable: 1 definite, 1 indirect
 *   global     held by a global: reachable
 *   interior   only a pointer into its middle survives: possible
 * clobber() overwrites the dead stack slots that still hold the lost pointers. */
#include <stdlib.h>
#include <stdio.h>
struct node { struct node *next; long pad[3]; };
static void *global_held; static char *interior;
__attribute__((noinline)) static void lose_list(void) {
    struct node *a = malloc(32), *b = malloc(32), *c = malloc(32); /* @list */
    a->next = b; b->next = c; c->next = NULL;
}
__attribute__((noinline)) static void cycle(void) {
    struct node *a = malloc(32), *b = malloc(32); /* @cycle */
    a->next = b; b->next = a;
}
__attribute__((noinline)) static void clobber(void) { volatile char buf[4096]; for (int i = 0; i < 4096; i++) buf[i] = 0; (void)buf; }
int main(void) {
    lose_list(); cycle();
    global_held = malloc(100); /* @global */
    interior = (char *)malloc(200) + 16; /* @interior */
    clobber();
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("done\n");
    return 0;
}
