/* Writes to standard error before and after a while in which the tracer's
 * helper thread has something to say there (a periodic snapshot it cannot
 * write). */
#include <stdio.h>
#include <unistd.h>

int main(void) {
    fputs("program: start\n", stderr);
    usleep(300000);
    fputs("program: end, written after the tracer's warning, and long enough to cover it all\n", stderr);
    return 0;
}
