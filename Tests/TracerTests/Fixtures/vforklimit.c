/* A vfork child that lowers its own address-space limit before it execs:
 * the child shares the parent's memory, so the tracer must not give back the
 * parent's reservations for it.  Prints the parent's address space (VmSize,
 * kB) before and after, and its limit after (unlimited: the child's was its
 * own). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static long vm_size_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmSize:", 7) == 0) kb = atol(line + 7);
    if (f) fclose(f);
    return kb;
}

int main(void) {
    long before = vm_size_kb();
    pid_t pid = vfork();
    if (pid == 0) {
        struct rlimit small = {64 << 20, 64 << 20};
        setrlimit(RLIMIT_AS, &small);
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    struct rlimit mine;
    getrlimit(RLIMIT_AS, &mine);
    printf("%ld %ld %s\n", before, vm_size_kb(), mine.rlim_cur == RLIM_INFINITY ? "unlimited" : "limited");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
