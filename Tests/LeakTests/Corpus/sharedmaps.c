/*
 * The only pointers to four blocks kept in memory the program mapped other
 * than privately and anonymously: a shared anonymous mapping, a file mapped
 * privately and writable, a file mapped shared, and System V shared memory.
 * All four are roots, as memcheck has them (only private anonymous memory
 * was: the four blocks came out definitely lost).
 *
 * EXPECT reachable 410 4
 */
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

#include "corpus.h"

static void **area(int flags, int fd) {
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, flags, fd, 0);
    return p == MAP_FAILED ? NULL : p;
}

static NOINLINE int fill(void) {
    char name[] = "/tmp/memtrace-sharedmaps-XXXXXX";
    int fd = mkstemp(name);
    if (fd < 0 || ftruncate(fd, 8192) != 0) return 1;
    unlink(name);
    void **shared = area(MAP_SHARED | MAP_ANONYMOUS, -1);
    void **private_file = area(MAP_PRIVATE, fd);
    void **shared_file = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096);
    int segment = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    void **sysv = segment >= 0 ? shmat(segment, NULL, 0) : (void *)-1;
    if (segment >= 0) shmctl(segment, IPC_RMID, NULL); /* gone once detached */
    if (!shared || !private_file || shared_file == MAP_FAILED || sysv == (void *)-1) return 1;
    shared[0] = malloc(101); /* SITE shared */
    private_file[0] = malloc(102); /* SITE private */
    shared_file[0] = malloc(103); /* SITE sharedfile */
    sysv[0] = malloc(104); /* SITE sysv */
    return 0;
}

int main(void) {
    int failed = fill();
    scrub_stack();
    return failed;
}
