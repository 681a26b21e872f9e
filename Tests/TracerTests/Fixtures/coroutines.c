/* Two coroutines (ucontext) on stacks of their own allocate from the same
 * function, switching after every allocation; then one stack is unmapped and
 * a new coroutine runs on a fresh stack, likely at the same address, with a
 * shallower chain of calls.  A coroutine's stack ends in glibc's
 * __start_context, which has no unwind information. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>

#define STACK_BYTES (256 * 1024)
#define ROUNDS 300
static ucontext_t main_context, first_context, second_context;
static void *kept[3 * ROUNDS];
static int kept_count;

__attribute__((noinline)) static void allocate(size_t n) {
    kept[kept_count++] = malloc(n); /* @coroutine-site */
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void deeper(size_t n) {
    allocate(n);
    __asm__ volatile("" ::: "memory");
}

static void first(void) {
    for (int i = 0; i < ROUNDS; i++) {
        deeper(48);
        swapcontext(&first_context, &second_context);
    }
}

static void second(void) {
    for (int i = 0; i < ROUNDS; i++) {
        deeper(80);
        swapcontext(&second_context, &first_context);
    }
}

static void third(void) {
    for (int i = 0; i < ROUNDS; i++) allocate(112);
}

static void *new_stack(ucontext_t *context, void (*body)(void), ucontext_t *after) {
    void *stack = mmap(NULL, STACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED) exit(1);
    getcontext(context);
    context->uc_stack.ss_sp = stack;
    context->uc_stack.ss_size = STACK_BYTES;
    context->uc_link = after;
    makecontext(context, body, 0);
    return stack;
}

int main(void) {
    void *a = new_stack(&first_context, first, &main_context);
    void *b = new_stack(&second_context, second, &main_context);
    swapcontext(&main_context, &first_context);
    /* `first` ended after its last round; `second` is still in its last swap. */
    munmap(a, STACK_BYTES);
    void *c = new_stack(&first_context, third, &main_context);
    swapcontext(&main_context, &first_context);
    printf("coroutines: %d blocks, stack reused: %d\n", kept_count, a == c);
    munmap(b, STACK_BYTES);
    munmap(c, STACK_BYTES);
    return 0;
}
