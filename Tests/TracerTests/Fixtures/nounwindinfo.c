/* Allocations from code without unwind information, in a program that closes
 * every descriptor above standard error, as daemons do, and then reads and
 * writes files under the numbers it gets back.  Prints the lowest free
 * descriptor at its start: the same traced as untraced.
 *
 * Usage: nounwindinfo INPUT OUTPUT */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Hand-written, without .cfi directives: no unwind table covers it.  It
 * keeps a frame pointer, as a compiler does at -O0. */
void *alloc_without_unwind_info(size_t size);
__asm__(".text\n"
        ".globl alloc_without_unwind_info\n"
        ".type alloc_without_unwind_info, @function\n"
        "alloc_without_unwind_info:\n"
        "    push %rbp\n"
        "    mov %rsp, %rbp\n"
        "    call malloc@PLT\n"
        "    pop %rbp\n"
        "    ret\n"
        ".size alloc_without_unwind_info, .-alloc_without_unwind_info\n");

static void *kept[3], *kept_by_thread[3];

__attribute__((noinline)) static void allocate_through_it(void **keep) {
    for (int i = 0; i < 100; i++) free(alloc_without_unwind_info(100 + (size_t)i));
    for (int i = 0; i < 3; i++) keep[i] = alloc_without_unwind_info(555);
    __asm__ volatile("" ::: "memory");
}

/* The same from a thread of its own, whose stack is not the main thread's. */
static void *in_thread(void *unused) {
    allocate_through_it(kept_by_thread);
    return unused;
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    int probe = open("/dev/null", O_RDONLY);
    printf("lowest free descriptor: %d\n", probe);
    fflush(stdout);
    for (int fd = 3; fd < 1024; fd++) close(fd);
    int in = open(argv[1], O_RDONLY);
    int out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0) return 1;
    allocate_through_it(kept);
    char buffer[256];
    ssize_t n = read(in, buffer, sizeof buffer);
    if (n < 0 || write(out, buffer, (size_t)n) != n) return 1;
    for (int i = 0; i < 3; i++) free(kept[i]);
    allocate_through_it(kept); /* the same stacks again */
    pthread_t thread;
    if (pthread_create(&thread, NULL, in_thread, NULL) != 0 || pthread_join(thread, NULL) != 0) return 1;
    printf("copied %zd bytes\n", n);
    return close(in) == 0 && close(out) == 0 ? 0 : 1;
}
