/* Walks through code without unwind information whose rbp holds no frame,
 * where a walk that trusted it would read memory that is not there.  Each
 * case prints "ok"; traced, the program must print the same and not fault.
 *   - a coroutine whose stack is mapped inside the range pthread_getattr_np
 *     gives as the main thread's stack (its size limit), rbp at its top;
 *   - the same with no stack limit (the program runs itself again with none),
 *     where glibc's range reaches down to the heap, a coroutine stack from
 *     malloc and rbp just below the end of the heap;
 *   - rbp at two words that look like a frame of a function with an 8 KiB
 *     frame, at the top of a stack that has inaccessible pages above it.
 * Usage: framepointers [unlimited] */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <ucontext.h>
#include <unistd.h>

/* Hand-written, without .cfi directives: rbp = rbpval, then malloc(n). */
void *malloc_with_rbp(size_t n, uintptr_t rbpval);
/* Runs fn(arg) on the stack that ends at `top`. */
void *on_stack(void *(*fn)(void *), void *arg, void *top);
__asm__(".text\n"
        ".globl malloc_with_rbp\n"
        ".type malloc_with_rbp, @function\n"
        "malloc_with_rbp:\n"
        "    push %rbp\n"
        "    mov %rsi, %rbp\n"
        "    call malloc@PLT\n"
        "    pop %rbp\n"
        "    ret\n"
        ".size malloc_with_rbp, .-malloc_with_rbp\n"
        ".globl on_stack\n"
        ".type on_stack, @function\n"
        "on_stack:\n"
        "    push %rbp\n"
        "    mov %rsp, %rbp\n"
        "    push %rbx\n"
        "    push %r12\n"
        "    mov %rsp, %r12\n"
        "    mov %rdx, %rsp\n"
        "    and $-16, %rsp\n"
        "    mov %rdi, %rax\n"
        "    mov %rsi, %rdi\n"
        "    call *%rax\n"
        "    mov %r12, %rsp\n"
        "    pop %r12\n"
        "    pop %rbx\n"
        "    pop %rbp\n"
        "    ret\n"
        ".size on_stack, .-on_stack\n");

static ucontext_t main_context, coroutine_context;
static char *coroutine_stack;
static const size_t coroutine_size = 1 << 16;
static uintptr_t coroutine_rbp;

static void coroutine(void) { free(malloc_with_rbp(24, coroutine_rbp)); }

static void run_coroutine(void) {
    getcontext(&coroutine_context);
    coroutine_context.uc_stack.ss_sp = coroutine_stack;
    coroutine_context.uc_stack.ss_size = coroutine_size;
    coroutine_context.uc_link = &main_context;
    makecontext(&coroutine_context, coroutine, 0);
    swapcontext(&main_context, &coroutine_context);
    puts("ok");
}

static void *nothing(void *unused) { return unused; }

static void second_thread(void) {
    pthread_t thread;
    pthread_create(&thread, NULL, nothing, NULL);
    pthread_join(thread, NULL);
    free(malloc(1));
}

static uintptr_t big_frame_return;
__attribute__((noinline)) static void note_return(void) {
    big_frame_return = (uintptr_t)__builtin_return_address(0);
}
__attribute__((noinline)) static void big_frame(void) {
    volatile char pad[8192];
    pad[0] = 1;
    note_return();
    pad[1] = 2;
}
static void *allocate_with_rbp(void *rbp) {
    free(malloc_with_rbp(24, (uintptr_t)rbp));
    return NULL;
}

int main(int argc, char **argv) {
    second_thread();
    if (argc > 1 && strcmp(argv[1], "unlimited") == 0) {
        static void *volatile kept;
        for (int i = 0; i < 256; i++) kept = malloc(4000); /* the heap grows past where it ended */
        coroutine_stack = malloc(coroutine_size);
        coroutine_rbp = (((uintptr_t)sbrk(0) + 4095) & ~(uintptr_t)4095) - 8;
        run_coroutine();
        return 0;
    }

    pthread_attr_t attr;
    void *lo;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &attr) != 0 || pthread_attr_getstack(&attr, &lo, &size) != 0) return 2;
    pthread_attr_destroy(&attr);
    coroutine_stack = mmap((char *)lo + size - (4 << 20), coroutine_size, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (coroutine_stack == MAP_FAILED) return 2;
    coroutine_rbp = (uintptr_t)coroutine_stack + coroutine_size - 8;
    run_coroutine();

    big_frame();
    char *region = mmap(NULL, 2 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED || mprotect(region + (1 << 16), 1 << 16, PROT_NONE) != 0) return 2;
    uint64_t *words = (uint64_t *)(region + (1 << 16) - 64);
    words[0] = (uintptr_t)(region + (1 << 16) - 16);
    words[1] = big_frame_return;
    on_stack(allocate_with_rbp, words, region + (1 << 16) - 128);
    puts("ok");

    /* Again with no stack limit, in a process of its own. */
    struct rlimit none = {RLIM_INFINITY, RLIM_INFINITY};
    if (setrlimit(RLIMIT_STACK, &none) != 0) return 2;
    fflush(stdout);
    execl("/proc/self/exe", argv[0], "unlimited", (char *)NULL);
    return 2;
}
