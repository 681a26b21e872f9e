/*
 * Memory for the tracer's own tables, straight from mmap: the traced malloc
 * must never be asked for it (it would recurse, and it would be counted).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "tracer.h"

uint64_t mt_mapped_bytes;

/* Every mapping of the tracer's, so that the leak scan, which reads the
 * program's anonymous memory for pointers, leaves the tracer's tables out:
 * they name every block.  Entries are claimed without a lock (a mapping may be
 * made under any lock, and in a child of fork) and never reused; when they
 * run out, mt_own_mappings says so and the scan reads no anonymous memory. */
#define OWN_MAPPINGS 16384
static struct mt_range own[OWN_MAPPINGS];
static uint32_t own_claimed;

static void own_add(void *p, size_t bytes) {
    uint32_t i = __atomic_fetch_add(&own_claimed, 1, __ATOMIC_RELAXED);
    if (i >= OWN_MAPPINGS) return;
    __atomic_store_n(&own[i].hi, (uint64_t)(uintptr_t)p + bytes, __ATOMIC_RELAXED);
    __atomic_store_n(&own[i].lo, (uint64_t)(uintptr_t)p, __ATOMIC_RELEASE);
}

static void own_remove(void *p) {
    uint32_t n = __atomic_load_n(&own_claimed, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i < n && i < OWN_MAPPINGS; i++) {
        uint64_t lo = (uint64_t)(uintptr_t)p;
        if (__atomic_compare_exchange_n(&own[i].lo, &lo, 0, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
            __atomic_store_n(&own[i].hi, 0, __ATOMIC_RELAXED);
            return;
        }
    }
}

int mt_own_mappings(const struct mt_range **ranges) {
    uint32_t n = __atomic_load_n(&own_claimed, __ATOMIC_ACQUIRE);
    *ranges = own;
    return n > OWN_MAPPINGS ? -1 : (int)n;
}

void *mt_map(size_t bytes) {
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    __atomic_add_fetch(&mt_mapped_bytes, bytes, __ATOMIC_RELAXED);
    own_add(p, bytes);
    return p;
}

void *mt_reserve(size_t bytes) {
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return NULL;
    own_add(p, bytes);
    return p;
}

size_t mt_page_size(void) {
    static size_t page;
    if (!page) page = (size_t)sysconf(_SC_PAGESIZE);
    return page;
}

/* mincore is not among the system calls a service's seccomp filter usually
 * allows (systemd's SystemCallFilter=@system-service), and a filter that
 * kills on it killed the traced program at its exit snapshot.  Under a filter
 * the resident pages are read from /proc/self/pagemap instead, whose reads it
 * allows. */
static int under_seccomp_filter(void) {
    static int known, filtered;
    if (!known) {
        filtered = prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 2;
        known = 1;
    }
    return filtered;
}

static uint64_t resident_from_pagemap(const void *p, size_t bytes) {
    int fd = mt_open("/proc/self/pagemap", O_RDONLY, 0);
    if (fd < 0) return 0;
    const size_t page = mt_page_size();
    uint64_t entries[64], pages = 0, first = (uint64_t)(uintptr_t)p / page, count = (bytes + page - 1) / page;
    for (uint64_t i = 0; i < count; i += 64) {
        size_t n = count - i < 64 ? (size_t)(count - i) : 64;
        ssize_t got = pread(fd, entries, n * sizeof entries[0], (off_t)((first + i) * sizeof entries[0]));
        if (got <= 0) break;
        for (ssize_t k = 0; k < got / (ssize_t)sizeof entries[0]; k++) pages += entries[k] >> 63; /* present */
    }
    close(fd);
    return pages * page;
}

/* How much of a reservation is resident: mapped bytes do not say for one. */
uint64_t mt_resident_bytes(const void *p, size_t bytes) {
    if (under_seccomp_filter()) return resident_from_pagemap(p, bytes);
    const size_t page = mt_page_size();
    unsigned char vec[256]; /* a small frame: snapshots are written on the stacks of threads that exit */
    const size_t chunk = sizeof vec * page;
    uint64_t pages = 0;
    for (size_t off = 0; off < bytes; off += chunk) {
        size_t len = bytes - off < chunk ? bytes - off : chunk;
        if (mincore((char *)(uintptr_t)p + off, len, vec) != 0) break;
        for (size_t i = 0; i < (len + page - 1) / page; i++) pages += vec[i] & 1;
    }
    return pages * page;
}

/* Gives back the end of a reservation from `keep` bytes on (rounded up to a
 * page); what stays keeps its place, and the tracer's list of its own
 * mappings ends where it does now, lest a mapping of the program's that
 * lands in the freed range be taken for the tracer's. */
void mt_reserve_shrink(void *p, size_t bytes, size_t keep) {
    const size_t page = mt_page_size();
    keep = (keep + page - 1) / page * page;
    if (!p || keep >= bytes) return;
    uint64_t lo = (uint64_t)(uintptr_t)p;
    uint32_t n = __atomic_load_n(&own_claimed, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i < n && i < OWN_MAPPINGS; i++)
        if (__atomic_load_n(&own[i].lo, __ATOMIC_ACQUIRE) == lo) __atomic_store_n(&own[i].hi, lo + keep, __ATOMIC_RELEASE);
    munmap((char *)p + keep, bytes - keep);
}

void mt_unmap(void *p, size_t bytes) {
    if (!p) return;
    own_remove(p);
    munmap(p, bytes);
    __atomic_sub_fetch(&mt_mapped_bytes, bytes, __ATOMIC_RELAXED);
}

/* While it waits, a thread answers the helper's request for the allocator's
 * statistics (control.c): the helper may hold the lock waiting for them.
 * Spins, then yields, then sleeps a fifth of a millisecond at a time: a
 * holder that takes long (a large snapshot written to a slow disk) is not
 * waited for with a whole core. */
void mt_lock_slow(mt_lock_t *l) {
    for (unsigned spins = 0;; spins++) {
        if (__atomic_load_n(&l->v, __ATOMIC_RELAXED) == 0 &&
            __atomic_exchange_n(&l->v, 1, __ATOMIC_ACQUIRE) == 0)
            return;
        if (MT_UNLIKELY(__atomic_load_n(&mt_solo, __ATOMIC_RELAXED) & MT_SOLO_STATS)) mt_allocator_serve();
        if (spins < 64) {
            __builtin_ia32_pause();
        } else if (spins < 64 + 1024) {
            sched_yield();
        } else {
            const struct timespec nap = {0, 200000};
            mt_sleep(&nap);
        }
    }
}

/* nanosleep without being a cancellation point: a thread the program
 * cancels must not end inside the tracer (in malloc, holding a lock). */
void mt_sleep(const struct timespec *t) { syscall(SYS_nanosleep, t, NULL); }

/* ---- descriptors ------------------------------------------------------------
 * open() hands out the lowest free number, which may be one the program has
 * just closed to put another file there (a shell's `close(1); dup2(4, 1)`):
 * the program's dup2 then closes the tracer's file, and the tracer's close,
 * or its snapshot's writes, land on the program's stdout.  The helper thread
 * has a table of its own (control.c); in the program's threads the tracer
 * moves every file it opens above MT_FD_FLOOR at once, and gives the low
 * number back only if it still holds the file opened: checked against the
 * path, the program may have taken the number back in between. */
#define MT_FD_FLOOR 512

static int same_file(const struct stat *a, const struct stat *b) { return a->st_dev == b->st_dev && a->st_ino == b->st_ino; }

int mt_open(const char *path, int flags, unsigned mode) {
    for (int tries = 0;; tries++) {
        int fd = open(path, flags | O_CLOEXEC, mode);
        if (fd < 0 || fd >= MT_FD_FLOOR) return fd;
        int high = fcntl(fd, F_DUPFD_CLOEXEC, MT_FD_FLOOR);
        if (high < 0) return fd; /* a descriptor limit below the floor: as before */
        struct stat want, got, low;
        int ours = stat(path, &want) == 0 && fstat(high, &got) == 0 && same_file(&want, &got);
        if (ours) {
            if (fstat(fd, &low) == 0 && same_file(&low, &got)) close(fd);
            return high;
        }
        close(high); /* a copy of the program's file, which now holds that number */
        if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL)) unlink(path); /* created by this call */
        if (tries == 2) {
            errno = EBUSY;
            return -1;
        }
    }
}

/* ---- growable buffer ------------------------------------------------------- */
static void buf_reserve(struct mt_buf *b, size_t more) {
    if (b->failed || b->len + more <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64 * 1024;
    while (cap < b->len + more) cap *= 2;
    void *p;
    if (b->data) {
        p = mremap(b->data, b->cap, cap, MREMAP_MAYMOVE);
        if (p != MAP_FAILED) __atomic_add_fetch(&mt_mapped_bytes, cap - b->cap, __ATOMIC_RELAXED);
        else p = NULL;
    } else {
        p = mt_map(cap);
    }
    if (!p) {
        b->failed = 1;
        return;
    }
    b->data = p;
    b->cap = cap;
}

void mt_buf_put(struct mt_buf *b, const void *p, size_t n) {
    buf_reserve(b, n);
    if (b->failed) return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void mt_buf_u32(struct mt_buf *b, uint32_t v) { mt_buf_put(b, &v, 4); }
void mt_buf_u64(struct mt_buf *b, uint64_t v) { mt_buf_put(b, &v, 8); }

void mt_buf_str(struct mt_buf *b, const char *s, size_t n) {
    mt_buf_u32(b, (uint32_t)n);
    mt_buf_put(b, s, n);
}

void mt_buf_free(struct mt_buf *b) {
    mt_unmap(b->data, b->cap);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}
