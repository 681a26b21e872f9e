/* exit() from a worker while the main thread blocks every signal: the scan
 * cannot stop main, so it reads main's whole stack range, most of which the
 * kernel has not mapped yet.  The block only main's stack holds is reachable. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
static void *worker(void *arg) { (void)arg; printf("worker exits\n"); fflush(stdout); exit(0); }
int main(void) {
    sigset_t all; sigfillset(&all); pthread_sigmask(SIG_BLOCK, &all, NULL); /* main never answers */
    void *held = malloc(999); /* @held */
    pthread_t t; pthread_create(&t, NULL, worker, NULL);
    pthread_join(t, NULL);
    free(held);
    return 1;
}
