/*
 * Helpers shared by the leak corpus.
 *
 * Each program builds its structures in functions that are never inlined, so
 * no pointer to a block survives in main's own frame, then overwrites the
 * dead part of the stack below it with zeros (scrub_stack), so that a
 * conservative scan finds no stale copy of a pointer there. What remains is
 * what the program states on purpose: globals, blocks pointing to blocks,
 * interior pointers.
 */
#ifndef CORPUS_H
#define CORPUS_H

#include <stdlib.h>
#include <string.h>

#include "memtrace.h"

#define NOINLINE __attribute__((noinline))

/* Zeroes 64 KiB of stack below the caller: dead frames keep no pointer. */
static NOINLINE void scrub_stack(void) {
    volatile char area[64 * 1024];
    memset((char *)area, 0, sizeof area);
    __asm__ volatile("" : : "r"(area) : "memory");
}

/* Stores a pointer where the compiler cannot prove it unused. */
#define KEEP(global, value) (*(void *volatile *)&(global) = (value))

#endif
