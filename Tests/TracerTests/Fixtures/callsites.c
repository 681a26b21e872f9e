/* One allocation site met again and again at the same place on the stack
 * (the same return address, the same stack pointer) under different callers.
 * Three callers with frames of one size take turns, each twice in a row; two
 * more reach it through a frame with a variable-length array sized so that
 * the site's frame lands at the same address from both, while the frame
 * above it (located through rbp) does not.  And stacks deeper than the 64
 * frames kept: 68 frames (walked to the end) and over a hundred (walked to
 * the cap). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS 200
static void *kept[11 * ROUNDS];
static int kept_count;
static uintptr_t site_frame; /* where the site's frame was, last call */

__attribute__((noinline)) static void *site(size_t n) {
    site_frame = (uintptr_t)__builtin_frame_address(0);
    void *p = n ? malloc(n) : NULL; /* @site */
    __asm__ volatile("" ::: "memory");
    return p;
}

__attribute__((noinline)) static void *caller_a(size_t n) {
    void *p = site(n);
    __asm__ volatile("" ::: "memory");
    return p;
}

__attribute__((noinline)) static void *caller_b(size_t n) {
    void *p = site(n);
    __asm__ volatile("" ::: "memory");
    return p;
}

__attribute__((noinline)) static void *caller_c(size_t n) {
    void *p = site(n);
    __asm__ volatile("" ::: "memory");
    return p;
}

__attribute__((noinline)) static void *under_vla(size_t n, int pad) {
    char buffer[pad];
    memset(buffer, 0, (size_t)pad);
    __asm__ volatile("" ::"r"(buffer) : "memory");
    return site(n);
}

__attribute__((noinline)) static void *shallow(size_t n, int pad) {
    void *p = under_vla(n, pad);
    __asm__ volatile("" ::: "memory");
    return p;
}

__attribute__((noinline)) static void *deep(size_t n, int pad) {
    char extra[256];
    memset(extra, 0, sizeof extra);
    __asm__ volatile("" ::"r"(extra) : "memory");
    return under_vla(n, pad);
}

__attribute__((noinline)) static void *nest(int depth, size_t n) {
    void *p = depth ? nest(depth - 1, n) : site(n);
    __asm__ volatile("" ::: "memory");
    return p;
}

static void keep(void *p) { kept[kept_count++] = p; }

int main(void) {
    /* How much deeper `deep` puts the site than `shallow`, for one padding. */
    shallow(0, 64);
    uintptr_t from_shallow = site_frame;
    deep(0, 64);
    int pad_shallow = 64 + (int)(from_shallow - site_frame), pad_deep = 64;
    caller_a(0);
    uintptr_t from_a = site_frame;
    caller_c(0);
    int same_for_callers = site_frame == from_a;
    int same_through_vla = 1;
    for (int round = 0; round < ROUNDS; round++) {
        for (int twice = 0; twice < 2; twice++) keep(caller_a(16));
        for (int twice = 0; twice < 2; twice++) keep(caller_b(24));
        for (int twice = 0; twice < 2; twice++) keep(caller_c(40));
        keep(shallow(56, pad_shallow));
        uintptr_t at = site_frame;
        keep(deep(72, pad_deep));
        same_through_vla &= site_frame == at;
        for (int twice = 0; twice < 2; twice++) keep(nest(100, 88));
        keep(nest(62, 104));
    }
    printf("same place: callers %d, through the array %d\n", same_for_callers, same_through_vla);
    return kept_count == 11 * ROUNDS ? 0 : 1;
}
