/*
 * Leak classification by reachability, as LeakSanitizer and valgrind's
 * memcheck do it (MEMTRACE_LEAKS=1, at exit).
 *
 * Roots are the writable segments of every loaded module, every thread's
 * stack and registers, and its static TLS and thread control block (which
 * holds the DTV, through which dynamic TLS is reached), and under glibc the
 * program's anonymous memory outside the allocator (scan_anonymous).  Other threads are
 * stopped for the scan with a signal whose handler records the interrupted
 * registers and waits; a thread that does not answer in time has its whole
 * stack scanned instead.  Every 8-byte-aligned word of a root or of a marked
 * block that points into a live block marks it:
 *
 *   reachable  a pointer to its start, from a root or a reachable block;
 *   possible   reached only through interior pointers (or possible blocks);
 *   indirect   not reachable, but pointed to by another unreachable block;
 *   definite   not reachable, and pointed to by no other unreachable block
 *              (in a cycle of unreachable blocks, one is definite).
 *
 * Blocks the program marked with memtrace_ignore() are roots themselves.
 * The scan is conservative: any word that looks like a pointer counts, so a
 * stale pointer can make a leak look reachable, never the reverse.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "format.h"
#include <sys/stat.h>

#include "tracer.h"

enum { UNREACHED = 0, POSSIBLE = 1, REACHED = 2 };

struct block {
    uint64_t addr;
    uint64_t size;
};

static struct block *blocks;
static uint8_t *state, *kind;
static uint32_t *work;
static uint64_t nblocks, work_len, map_bytes[4];
static uint64_t lowest, highest;
static int scanned;

/* ---- thread registry entries ------------------------------------------------- */
int mt_thread_describe(struct mt_thread *t) {
    t->tid = (int)syscall(SYS_gettid);
    t->tcb = (uint64_t)pthread_self();
    if (mt_in_getattr) return 0; /* it holds this thread's lock, which it would wait for */
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *addr;
        size_t size;
        if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
            t->stack_lo = (uint64_t)(uintptr_t)addr;
            t->stack_hi = t->stack_lo + size;
        }
        pthread_attr_destroy(&attr);
    }
    /* The main thread's stack is mapped from where this runs up, if this
     * runs on it (not on a signal stack or a coroutine's: then contiguous
     * mapped pages up to its top would not be found). */
    t->main_thread = t->tid == getpid();
    t->mapped_lo = t->stack_hi;
    if (!t->main_thread) {
        t->mapped_lo = t->stack_lo;
    } else {
        uint64_t here = (uint64_t)(uintptr_t)__builtin_frame_address(0) & ~4095ull;
        if (here >= t->stack_lo && here < t->stack_hi && mt_range_mapped(here, t->stack_hi)) t->mapped_lo = here;
    }
    return 1;
}

/* ---- roots from the modules ----------------------------------------------------
 * libc's own data holds glibc malloc's state, whose top-chunk and bin
 * pointers name chunk headers: the header of the chunk after a block lies in
 * the block's last eight bytes when its size fills them, and would make it a
 * "possible" leak (memcheck, which replaces malloc, never sees that state).
 * So in libc's data a pointer to exactly there is the allocator's. */
static uint64_t libc_data_lo, libc_data_hi;

static int is_libc(const char *name) {
    const char *base = strrchr(name, '/');
    return strncmp(base ? base + 1 : name, "libc.so", 7) == 0;
}

static int add_writable(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct mt_buf *out = data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W)) continue;
        uint64_t start = info->dlpi_addr + ph->p_vaddr;
        if (mt_is_self_address(start)) continue; /* the tracer's own globals point at no block */
        mt_buf_u64(out, start);
        mt_buf_u64(out, start + ph->p_memsz);
        if (info->dlpi_name && is_libc(info->dlpi_name)) {
            libc_data_lo = start;
            libc_data_hi = start + ph->p_memsz;
        }
    }
    return 0;
}

static int is_next_chunk_header(uint64_t p, const struct block *b) {
    return p == b->addr + mt_real_usable_size((void *)(uintptr_t)b->addr) - 8;
}

void mt_leaks_prepare(struct mt_buf *roots) { mt_iterate_phdr(add_writable, roots); }

/* ---- the block index ------------------------------------------------------------ */
static void sift(struct block *a, uint64_t root, uint64_t n) {
    for (;;) {
        uint64_t child = 2 * root + 1;
        if (child >= n) return;
        if (child + 1 < n && a[child + 1].addr > a[child].addr) child++;
        if (a[root].addr >= a[child].addr) return;
        struct block t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

/* Heapsort: no allocation, no recursion, O(n log n) worst case. */
static void sort_blocks(struct block *a, uint64_t n) {
    if (n < 2) return;
    for (uint64_t i = n / 2; i-- > 0;) sift(a, i, n);
    for (uint64_t end = n - 1; end > 0; end--) {
        struct block t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift(a, 0, end);
    }
}

/* The block containing `p`, or -1. */
static int64_t find_block(uint64_t p) {
    if (p < lowest || p >= highest) return -1;
    uint64_t lo = 0, hi = nblocks;
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (blocks[mid].addr <= p) lo = mid;
        else hi = mid;
    }
    const struct block *b = &blocks[lo];
    if (p < b->addr) return -1;
    if (p == b->addr || p - b->addr < b->size) return (int64_t)lo;
    return -1;
}

static void *map_counted(int which, uint64_t bytes) {
    map_bytes[which] = (bytes + 4095) & ~4095ull;
    return map_bytes[which] ? mt_map(map_bytes[which]) : NULL;
}

static void collect_block(const struct mt_live *e, size_t usable, void *ctx) {
    (void)usable;
    uint64_t *n = ctx;
    if (*n == nblocks) return;
    blocks[*n].addr = e->ptr;
    /* The ignored flag rides in the size's top bit until marking starts. */
    blocks[*n].size = e->size | ((uint64_t)(e->flags & MT_SLOT_IGNORED) << 63);
    (*n)++;
}

/* Every live block, those whose records are kept in them included (first: one
 * that fails its check moves into the table there), sorted by address. */
static int collect_blocks(void) {
    nblocks = 0;
    for (int i = 0; i < MT_SHARDS; i++) nblocks += mt_shards[i].count + mt_shards[i].in_blocks;
    if (!nblocks) return 0;
    blocks = map_counted(0, nblocks * sizeof *blocks);
    state = map_counted(1, nblocks);
    kind = map_counted(2, nblocks);
    work = map_counted(3, 2 * nblocks * sizeof *work);
    if (!blocks || !state || !kind || !work) return -1;
    uint64_t n = 0;
    mt_inblock_each(collect_block, &n);
    struct mt_live e;
    for (int i = 0; i < MT_SHARDS; i++) {
        struct mt_live_cursor c = {0, 0};
        while (mt_live_next(&mt_shards[i], &c, &e)) collect_block(&e, 0, &n);
    }
    nblocks = n;
    if (!nblocks) return 0;
    sort_blocks(blocks, nblocks);
    lowest = blocks[0].addr;
    const struct block *last = &blocks[nblocks - 1];
    highest = last->addr + ((last->size << 1) >> 1) + 1;
    return 0;
}

/* ---- marking ----------------------------------------------------------------------- */
static void mark(int64_t i, uint8_t how) {
    if (state[i] >= how) return;
    state[i] = how;
    if (work_len < 2 * nblocks) work[work_len++] = (uint32_t)i;
}

static void scan_range(uint64_t from, uint64_t to, uint8_t parent) {
    from = (from + 7) & ~7ull;
    for (uint64_t a = from; a + 8 <= to; a += 8) {
        uint64_t p = *(const uint64_t *)(uintptr_t)a;
        int64_t i = find_block(p);
        if (i < 0) continue;
        uint8_t how = p == blocks[i].addr && parent == REACHED ? REACHED : POSSIBLE;
        mark(i, how);
    }
}

/* Roots may include memory that is not mapped: the unused end of the main
 * thread's stack (it grows on demand), or the region around a thread pointer.
 * So roots are copied through process_vm_readv, which reports unmapped pages
 * instead of faulting, and scanned from the copy. */
static uint8_t *root_buffer;
#define ROOT_CHUNK (64 * 1024)

static void scan_root_range(uint64_t from, uint64_t to, uint8_t parent) {
    from &= ~7ull;
    if (!root_buffer) root_buffer = mt_map(ROOT_CHUNK);
    if (!root_buffer) return;
    pid_t self = (pid_t)syscall(SYS_gettid); /* a zombie main thread (pthread_exit) gives ESRCH under the pid */
    while (from < to) {
        uint64_t len = to - from < ROOT_CHUNK ? to - from : ROOT_CHUNK;
        /* Stay within one page at a time after a fault, so one hole skips one page. */
        struct iovec local = {root_buffer, len}, remote = {(void *)(uintptr_t)from, len};
        ssize_t got = process_vm_readv(self, &local, 1, &remote, 1, 0);
        if (got <= 0) {
            uint64_t next_page = (from | 4095) + 1;
            from = next_page;
            continue;
        }
        for (ssize_t off = 0; off + 8 <= got; off += 8) {
            uint64_t p;
            memcpy(&p, root_buffer + off, 8);
            int64_t i = find_block(p);
            if (i < 0) continue;
            if (from >= libc_data_lo && from < libc_data_hi && p != blocks[i].addr &&
                is_next_chunk_header(p, &blocks[i]))
                continue;
            mark(i, p == blocks[i].addr && parent == REACHED ? REACHED : POSSIBLE);
        }
        from += (uint64_t)got;
    }
}

static void drain(void) {
    while (work_len > 0) {
        uint32_t i = work[--work_len];
        scan_range(blocks[i].addr, blocks[i].addr + blocks[i].size, state[i]);
    }
}

/* ---- stopping the other threads ---------------------------------------------------- */
#define SUSPEND_SIGNAL (SIGRTMAX - 1)
static volatile int release_threads;
static int acks;

/* Threads that never recorded (strangers) are not in the registry, yet their
 * stacks and registers may hold the only pointer to a block (a worker handed
 * a block it only reads).  They are found in /proc/self/task and stopped as
 * the others are, and their stacks scanned from the stack pointer to the end
 * of the readable mapping that holds it (with a glibc thread's descriptor and
 * static TLS, which lie at its top), or of the live block that holds it (a
 * stack the program allocated).  The list stays mapped: a thread that answers
 * after the wait still reads it. */
#define MAX_STRANGERS 4096
struct stranger {
    int tid, suspended;
    int waiting; /* blocks the signal: not sent it, its stack read from where it waits */
    uint64_t sp, lo, hi; /* lo, hi: the mapping that holds sp, once found */
    uint64_t regs[32];
};
static struct stranger *strangers;
static uint32_t nstrangers;
/* Threads left out of `strangers` (running with the signal blocked, or past
 * MAX_STRANGERS): where their stacks are is not known. */
static uint32_t unplaced_strangers;

static void on_suspend(int sig, siginfo_t *info, void *context) {
    (void)sig;
    (void)info;
    int saved = errno;
    struct mt_thread *self = mt_thread_self();
    const ucontext_t *uc = context;
    if (self && uc) {
        for (int r = 0; r < NGREG && r < 32; r++) self->regs[r] = (uint64_t)uc->uc_mcontext.gregs[r];
        self->sp = (uint64_t)uc->uc_mcontext.gregs[REG_RSP];
        self->suspended = 1;
    } else if (uc && !__atomic_load_n(&release_threads, __ATOMIC_ACQUIRE)) {
        int tid = (int)syscall(SYS_gettid);
        for (uint32_t i = 0; i < nstrangers; i++) {
            struct stranger *t = &strangers[i];
            if (t->tid != tid) continue;
            for (int r = 0; r < NGREG && r < 32; r++) t->regs[r] = (uint64_t)uc->uc_mcontext.gregs[r];
            t->sp = (uint64_t)uc->uc_mcontext.gregs[REG_RSP];
            t->suspended = 1;
            break;
        }
    }
    __atomic_add_fetch(&acks, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&release_threads, __ATOMIC_ACQUIRE)) {
        struct timespec pause = {0, 200000};
        mt_sleep(&pause);
    }
    errno = saved;
}

struct suspend_state {
    struct mt_thread *self;
    int sent;
};

/* Reads /proc/self/task/TID/FILE into text (NUL-terminated); its length, or 0. */
/* /proc/thread-self/NAME, the calling thread's view of the process: once the
 * main thread has ended (pthread_exit), /proc/self names it, and its maps
 * and pagemap read empty.  /proc/self/NAME before Linux 3.17. */
static int open_own_proc_file(const char *name) {
    char path[64] = "/proc/thread-self/";
    size_t n = strlen(path), len = strlen(name);
    if (n + len >= sizeof path) return -1;
    memcpy(path + n, name, len + 1);
    int fd = mt_open(path, O_RDONLY, 0);
    if (fd >= 0) return fd;
    memcpy(path, "/proc/self/", 11);
    memcpy(path + 11, name, len + 1);
    return mt_open(path, O_RDONLY, 0);
}

static size_t read_task_file(int tid, const char *file, char *text, size_t size) {
    char path[64] = "/proc/self/task/", digits[16];
    size_t n = strlen(path);
    int len = 0;
    for (unsigned v = (unsigned)tid; v || !len; v /= 10) digits[len++] = (char)('0' + v % 10);
    while (len) path[n++] = digits[--len];
    path[n++] = '/';
    memcpy(path + n, file, strlen(file) + 1);
    int fd = mt_open(path, O_RDONLY, 0);
    if (fd < 0) return 0;
    ssize_t got = read(fd, text, size - 1);
    close(fd);
    if (got <= 0) return 0;
    text[got] = 0;
    return (size_t)got;
}

static uint64_t hex_at(const char *c) {
    uint64_t v = 0;
    if (c[0] == '0' && c[1] == 'x') c += 2;
    for (; (*c >= '0' && *c <= '9') || ((*c | 0x20) >= 'a' && (*c | 0x20) <= 'f'); c++)
        v = v * 16 + (uint64_t)(*c <= '9' ? *c - '0' : (*c | 0x20) - 'a' + 10);
    return v;
}

/* Whether thread `tid` blocks the suspend signal: sent anyway, it would stay
 * pending past the scan, and kill the thread once the handler is gone.  A
 * thread in sigwait() counts as blocking it: the kernel unblocks the signals
 * it waits for meanwhile, and it would take the signal as its own. */
static int blocks_suspend(int tid) {
    char text[4096];
    if (read_task_file(tid, "syscall", text, sizeof text) && atoi(text) == SYS_rt_sigtimedwait) return 1;
    if (!read_task_file(tid, "status", text, sizeof text)) return 0;
    const char *c = strstr(text, "\nSigBlk:");
    if (!c) return 0;
    for (c += 8; *c == ' ' || *c == '\t'; c++) {
    }
    return (int)((hex_at(c) >> (SUSPEND_SIGNAL - 1)) & 1);
}

/* Whether thread `tid` has ended though still listed: a thread that was just
 * joined lingers in /proc/self/task while the kernel finishes its exit, with
 * every signal blocked (PF_EXITING in the flags of its stat), then as a
 * zombie, or is gone. */
static int task_ended(int tid) {
    char text[4096];
    size_t n = read_task_file(tid, "stat", text, sizeof text);
    const char *c = n ? memrchr(text, ')', n) : NULL; /* after the name, which may hold anything */
    if (!c) return !n;
    c++;
    char state = 0;
    for (int field = 0; field < 7; field++) { /* state ppid pgrp session tty_nr tpgid flags */
        while (*c == ' ') c++;
        if (field == 0) state = *c;
        if (field == 6) {
            uint64_t flags = 0;
            for (; *c >= '0' && *c <= '9'; c++) flags = flags * 10 + (uint64_t)(*c - '0');
            return state == 'Z' || state == 'X' || (flags & 0x4); /* PF_EXITING */
        }
        while (*c && *c != ' ') c++;
    }
    return 0;
}

/* The stack pointer of a thread waiting in the kernel, from
 * /proc/self/task/TID/syscall ("NR ARGS... SP PC", or "-1 SP PC" when
 * blocked otherwise); 0 when it runs. */
static uint64_t waiting_sp(int tid) {
    char text[512];
    size_t n = read_task_file(tid, "syscall", text, sizeof text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == ' ')) text[--n] = 0;
    const char *last = memrchr(text, ' ', n);
    if (!last || last == text) return 0;
    const char *sp = memrchr(text, ' ', (size_t)(last - text));
    return sp ? hex_at(sp + 1) : 0;
}

static void send_suspend(struct mt_thread *t, void *context) {
    struct suspend_state *s = context;
    t->suspended = 0;
    if (t == s->self || !t->tid || blocks_suspend(t->tid)) return;
    if (syscall(SYS_tgkill, getpid(), t->tid, SUSPEND_SIGNAL) == 0) s->sent++;
}

static void registered_tid(struct mt_thread *t, void *context) {
    struct mt_buf *tids = context;
    if (t->tid) mt_buf_u64(tids, (uint64_t)t->tid);
}

/* Lists the process's threads that are neither registered nor the caller or
 * the helper, and sends each the suspend signal. */
static void suspend_strangers(struct suspend_state *s) {
    nstrangers = 0;
    unplaced_strangers = 0;
    mt_helper_wait_started(); /* a short program may end before its helper ran */
    if (!strangers) strangers = mt_map(MAX_STRANGERS * sizeof *strangers);
    struct mt_buf tids = {0};
    mt_threads_foreach(registered_tid, &tids);
    int fd = mt_open("/proc/self/task", O_RDONLY | O_DIRECTORY, 0);
    if (!strangers || tids.failed || fd < 0) {
        if (fd >= 0) close(fd);
        mt_buf_free(&tids);
        return;
    }
    uint64_t registered = tids.len / 8;
    const uint64_t *known = (const uint64_t *)(const void *)tids.data;
    int me = (int)syscall(SYS_gettid);
    char buf[4096] __attribute__((aligned(8)));
    for (;;) {
        long got = syscall(SYS_getdents64, fd, buf, sizeof buf);
        if (got <= 0) break;
        for (long at = 0; at < got;) {
            const char *name = buf + at + 19; /* d_ino, d_off, d_reclen, d_type, then the name */
            at += *(const unsigned short *)(const void *)(buf + at + 16);
            int tid = 0;
            for (const char *c = name; *c >= '0' && *c <= '9'; c++) tid = tid * 10 + (*c - '0');
            if (!tid || tid == me || tid == mt_helper_tid) continue;
            int found = 0;
            for (uint64_t i = 0; i < registered && !found; i++) found = known[i] == (uint64_t)tid;
            if (found) continue;
            if (task_ended(tid)) continue; /* the main thread after pthread_exit, a thread just joined */
            if (nstrangers == MAX_STRANGERS) {
                unplaced_strangers++;
            } else if (!blocks_suspend(tid)) {
                strangers[nstrangers++] = (struct stranger){.tid = tid};
            } else {
                /* Not stopped, but waiting, as such threads mostly are
                 * (in sigwait, say): its stack from where it waits. */
                uint64_t sp = waiting_sp(tid);
                if (sp) strangers[nstrangers++] = (struct stranger){.tid = tid, .sp = sp, .suspended = 1, .waiting = 1};
                else unplaced_strangers++;
            }
        }
    }
    close(fd);
    mt_buf_free(&tids);
    for (uint32_t i = 0; i < nstrangers; i++)
        if (!strangers[i].waiting && syscall(SYS_tgkill, getpid(), strangers[i].tid, SUSPEND_SIGNAL) == 0) s->sent++;
}

static void scan_thread(struct mt_thread *t, void *context) {
    struct suspend_state *s = context;
    if (t == s->self) return; /* scanned from the live frame instead */
    if (t->suspended) {
        for (int r = 0; r < 32; r++) {
            int64_t i = find_block(t->regs[r]);
            if (i >= 0) mark(i, t->regs[r] == blocks[i].addr ? REACHED : POSSIBLE);
        }
        /* 128 bytes below the stack pointer: the x86-64 red zone */
        uint64_t from = t->sp - 128;
        if (t->stack_hi && from >= t->stack_lo && from < t->stack_hi) scan_root_range(from, t->stack_hi, REACHED);
    } else if (t->stack_hi) {
        scan_root_range(t->stack_lo, t->stack_hi, REACHED);
    }
}

/* The thread control block and the static TLS below it (x86-64 TLS variant II). */
static uint64_t static_tls_size(void) {
    static uint64_t size;
    if (!size) {
        void (*info)(size_t *, size_t *) =
            (void (*)(size_t *, size_t *))dlvsym(RTLD_DEFAULT, "_dl_get_tls_static_info", "GLIBC_PRIVATE");
        size_t s = 0, align = 0;
        if (info) info(&s, &align);
        size = s ? s : 4096;
    }
    return size;
}

static void scan_tls(struct mt_thread *t, void *context) {
    (void)context;
    if (!t->tcb) return;
    /* The thread descriptor (with the DTV pointer and pthread_setspecific's
     * first block of values, strerror's buffer...) starts at the thread pointer
     * and is 2368 bytes in glibc 2.36; a page it does not fill is read safely. */
    scan_root_range(t->tcb - static_tls_size(), t->tcb + 2560, REACHED);
}

/* ---- the scan ------------------------------------------------------------------------ */
static uint64_t caller_frame;

/* At start-up, in the program's thread: the helper looks up no symbol. */
void mt_leaks_init(void) { (void)static_tls_size(); }

void mt_leaks_set_caller_frame(const void *frame) { caller_frame = (uint64_t)(uintptr_t)frame; }

#define MAPS_BUFFER (64 * 1024) /* read of /proc/self/maps at a time */

/* The mapping that holds `address` (/proc/thread-self/maps): [*lo, *hi), or 0s. */
static uint64_t wanted_address, holder_lo, holder_hi;
static void note_holder(uint64_t lo, uint64_t hi, const char *rest, const char *end) {
    (void)rest;
    (void)end;
    if (wanted_address >= lo && wanted_address < hi) {
        holder_lo = lo;
        holder_hi = hi;
    }
}
static void for_each_mapping(char *text, void (*fn)(uint64_t lo, uint64_t hi, const char *rest, const char *end));
static void mapping_of(uint64_t address, uint64_t *lo, uint64_t *hi) {
    char *text = mt_map(MAPS_BUFFER);
    wanted_address = address;
    holder_lo = holder_hi = 0;
    if (text) {
        for_each_mapping(text, note_holder);
        mt_unmap(text, MAPS_BUFFER);
    }
    *lo = holder_lo;
    *hi = holder_hi;
}

static uint64_t mapping_end(uint64_t address) {
    uint64_t lo, hi;
    mapping_of(address, &lo, &hi);
    return hi;
}

/* The scanning thread runs on a stack other than its own: a signal's
 * alternate stack, a coroutine's.  That stack from here up (to the end of
 * the alternate stack, or of the block or the mapping that holds it), and
 * what is mapped of the thread's own stack, whole, since where it stopped
 * using it is not known.  Scanning from here up to
 * the top of its own stack had crossed every mapping in between, the
 * tracer's tables among them, which name every block: nothing was lost. */
static void scan_foreign_stack(uint64_t from, const struct mt_thread *self) {
    stack_t alternate;
    int64_t block = find_block(from);
    uint64_t to;
    if (sigaltstack(NULL, &alternate) == 0 && (alternate.ss_flags & SS_ONSTACK) &&
        from >= (uint64_t)(uintptr_t)alternate.ss_sp && from - (uint64_t)(uintptr_t)alternate.ss_sp < alternate.ss_size)
        to = (uint64_t)(uintptr_t)alternate.ss_sp + alternate.ss_size;
    else if (block >= 0)
        to = blocks[block].addr + blocks[block].size;
    else
        to = mapping_end(from);
    /* The kernel merges adjacent mappings: never into the tracer's own, which name every block. */
    const struct mt_range *own;
    int owned = mt_own_mappings(&own);
    for (int i = 0; i < owned; i++) {
        uint64_t lo = __atomic_load_n(&own[i].lo, __ATOMIC_ACQUIRE);
        if (lo > from && lo < to) to = lo;
    }
    if (to > from) scan_root_range(from, to, REACHED);
    /* The thread's own stack, where it was left: what of it is mapped (an
     * unlimited stack size makes the main thread's range terabytes long). */
    if (self && self->stack_hi) {
        uint64_t lo, end;
        mapping_of(self->stack_hi - 1, &lo, &end);
        if (lo && lo < self->stack_hi) scan_root_range(lo > self->stack_lo ? lo : self->stack_lo, self->stack_hi, REACHED);
    }
}

static int on_own_stack(const struct mt_thread *self, uint64_t sp) {
    return self && self->stack_hi && sp >= self->stack_lo && sp < self->stack_hi;
}

__attribute__((noinline)) static void scan_own_stack(void) {
    if (mt_helper_tid && (int)syscall(SYS_gettid) == mt_helper_tid) return; /* _exit's scan: the program's are all stopped */
    struct mt_thread *self = mt_thread_self();
    if (caller_frame && on_own_stack(self, caller_frame)) {
        scan_root_range(caller_frame, self->stack_hi, REACHED);
        return;
    }
    ucontext_t here; /* the callee-saved registers, spilled into this frame */
    getcontext(&here);
    uint64_t from = (uint64_t)(uintptr_t)&here;
    if (on_own_stack(self, from)) {
        scan_root_range(from, self->stack_hi, REACHED);
        return;
    }
    scan_range(from, from + sizeof here, REACHED);
    if (self && self->stack_hi) {
        scan_foreign_stack(caller_frame ? caller_frame : from, self);
    } else if (!self && (int)syscall(SYS_gettid) == getpid() && mt_initial_sp) {
        /* The main thread, whose last thread-exit handler (pthread_exit,
         * glibc then calling exit) took it out of the registry: its stack
         * from here to the top, where the arguments and environment are. */
        uint64_t top = mapping_end(mt_initial_sp);
        if (top > from) scan_root_range(from, top, REACHED);
    }
}

/* The main thread ended (pthread_exit) and another thread ends the process:
 * the top of its stack, where the kernel put the arguments, the environment
 * (`environ` points there) and the auxiliary vector, stays a root. */
static void scan_ended_main(void) {
    int pid = getpid();
    if ((int)syscall(SYS_gettid) == pid || !mt_initial_sp || !task_ended(pid)) return;
    uint64_t top = mapping_end(mt_initial_sp);
    if (top > mt_initial_sp) scan_root_range(mt_initial_sp, top, REACHED);
}

/* ---- roots in the memory the program mapped -------------------------------------
 * A program may keep pointers to heap blocks in memory it maps itself:
 * Python's object pools (its small objects' arenas are mmap'd), a JIT's data,
 * a custom pool, shared memory.  valgrind scans all the memory it did not
 * hand out; so does this, under glibc, for the writable mappings (consider),
 * leaving out the tracer's own (they name every block), the thread stacks
 * (scanned from their stack pointers), the idle stacks of threads that ended,
 * glibc's heap and its other arenas (their free chunks hold stale pointers),
 * and the live blocks inside what is left (a large block is a mapping of its
 * own). */
#define GLIBC_HEAP_MAX (64ull << 20) /* glibc's HEAP_MAX_SIZE on 64-bit: a non-main arena's heaps */
static struct block *skip;           /* ranges left out, as (start, length), sorted */
static uint64_t nskip, skip_cap;

static void skip_add(uint64_t lo, uint64_t hi) {
    if (lo < hi && nskip < skip_cap) skip[nskip++] = (struct block){lo, hi - lo};
}

static void skip_stack(struct mt_thread *t, void *context) {
    (void)context;
    skip_add(t->stack_lo, t->stack_hi);
}

/* The length of the non-main glibc arena heap that starts at `a` (64 MiB
 * aligned) in the mapping [lo, hi), or 0.  A heap starts with its heap_info
 * (arena, previous heap, size, mprotect_size, pagesize), the writable part
 * being mprotect_size bytes, sizes in whole pages; the first heap of an arena
 * holds the arena right after it, a later one names the heap before it.  It
 * is a mapping of its own, unless the kernel merged it with a writable
 * mapping just below it (a thread's stack, the program's own). */
static uint64_t glibc_heap_length(uint64_t lo, uint64_t a, uint64_t hi) {
    if (a % GLIBC_HEAP_MAX || a < lo || hi - a < 5 * sizeof(uint64_t)) return 0;
    const uint64_t *info = (const uint64_t *)(uintptr_t)a;
    if (info[2] > info[3] || info[3] > hi - a || info[3] == 0 || info[2] % 4096 || info[3] % 4096) return 0;
    int first = info[1] == 0 && info[0] > a && info[0] - a < 256; /* its arena follows it */
    int later = info[1] != 0 && info[1] % GLIBC_HEAP_MAX == 0;
    if (!first && !later) return 0;
    uint64_t page = info[4]; /* glibc 2.35 on; before, padding */
    if (a == lo && info[3] == hi - a) return info[3];
    return page >= 4096 && !(page & (page - 1)) && info[3] % page == 0 ? info[3] : 0;
}

/* Scans [lo, hi) less the live blocks in it. */
static void scan_between_blocks(uint64_t lo, uint64_t hi) {
    uint64_t first = 0, last = nblocks; /* the first block at or after lo */
    while (first < last) {
        uint64_t mid = first + (last - first) / 2;
        if (blocks[mid].addr < lo) first = mid + 1;
        else last = mid;
    }
    for (uint64_t i = first; lo < hi && i < nblocks && blocks[i].addr < hi; i++) {
        scan_root_range(lo, blocks[i].addr, REACHED);
        uint64_t end = blocks[i].addr + blocks[i].size;
        if (end > lo) lo = end;
    }
    if (lo < hi) scan_root_range(lo, hi, REACHED);
}

static void scan_mapping_part(uint64_t lo, uint64_t hi) {
    uint64_t first = 0, last = nskip; /* the first range ending after lo */
    while (first < last) {
        uint64_t mid = first + (last - first) / 2;
        if (skip[mid].addr + skip[mid].size <= lo) first = mid + 1;
        else last = mid;
    }
    for (uint64_t i = first; lo < hi && i < nskip && skip[i].addr < hi; i++) {
        if (skip[i].addr > lo) scan_between_blocks(lo, skip[i].addr);
        uint64_t end = skip[i].addr + skip[i].size;
        if (end > lo) lo = end;
    }
    if (lo < hi) scan_between_blocks(lo, hi);
}

/* Scans [lo, hi) of the mapping [map_lo, map_hi) less the glibc arena heaps
 * in the mapping (their free chunks and the arena's bins hold stale
 * pointers) and the ranges of `skip`. */
static void scan_mapping(uint64_t lo, uint64_t hi, uint64_t map_lo, uint64_t map_hi) {
    for (uint64_t a = (lo + GLIBC_HEAP_MAX - 1) & ~(GLIBC_HEAP_MAX - 1); map_hi && a >= lo && a < hi;
         a += GLIBC_HEAP_MAX) {
        uint64_t length = glibc_heap_length(map_lo, a, map_hi);
        if (!length) continue;
        if (a > lo) scan_mapping_part(lo, a);
        lo = a + length < hi ? a + length : hi;
    }
    if (lo < hi) scan_mapping_part(lo, hi);
}

/* A mapping this large is scanned only where it has pages (/proc/self/pagemap:
 * in memory or swapped out): a runtime's reservation of gigabytes (Go's heap
 * arenas, a JVM's, wasm's guard regions) is mostly never touched, and reading
 * all of it faulted in zero pages by the million (18 s at exit for 64 GiB). */
#define SPARSE_BYTES (64ull << 20)
#define PAGEMAP_BATCH 4096 /* entries read at once: 16 MiB of address space with 4 KiB pages */

/* `anonymous`: glibc's heaps can be among its pages (a file's mapping is
 * read only through process_vm_readv, which reports what it cannot read). */
static void scan_touched(uint64_t lo, uint64_t hi, int anonymous) {
    uint64_t map_lo = anonymous ? lo : 0, map_hi = anonymous ? hi : 0;
    static uint64_t page_size;
    if (!page_size) {
        long size = sysconf(_SC_PAGESIZE);
        page_size = size > 0 ? (uint64_t)size : 4096;
    }
    /* A file's or a shared mapping's pages are read only where the program has
     * them, whatever its size: reading the rest would bring them in. */
    int fd = hi - lo >= SPARSE_BYTES || !anonymous ? open_own_proc_file("pagemap") : -1;
    uint64_t *entries = fd >= 0 ? mt_map(PAGEMAP_BATCH * sizeof *entries) : NULL;
    if (!entries) {
        if (fd >= 0) close(fd);
        scan_mapping(lo, hi, map_lo, map_hi);
        return;
    }
    uint64_t run = 0; /* where the pages with contents began; 0: not in such a run */
    uint64_t page = lo;
    while (page < hi) {
        uint64_t n = (hi - page) / page_size;
        if (n > PAGEMAP_BATCH) n = PAGEMAP_BATCH;
        if (n == 0) { /* less than a page left: scanned whole */
            if (!run) run = page;
            break;
        }
        ssize_t got = pread(fd, entries, n * sizeof *entries, (off_t)(page / page_size * sizeof *entries));
        if (got != (ssize_t)(n * sizeof *entries)) { /* cannot tell: the rest is scanned whole */
            if (!run) run = page;
            break;
        }
        for (uint64_t i = 0; i < n; i++, page += page_size) {
            int contents = (entries[i] >> 62) != 0; /* bit 63 present, bit 62 swapped */
            if (contents && !run) {
                run = page;
            } else if (!contents && run) {
                scan_mapping(run, page, map_lo, map_hi);
                run = 0;
            }
        }
    }
    if (run) scan_mapping(run, hi, map_lo, map_hi);
    mt_unmap(entries, PAGEMAP_BATCH * sizeof *entries);
    close(fd);
}

/* Calls `fn` with each line of /proc/self/maps: its range, and the rest of
 * the line after "lo-hi". */
static void for_each_mapping(char *text, void (*fn)(uint64_t lo, uint64_t hi, const char *rest, const char *end)) {
    int fd = text ? open_own_proc_file("maps") : -1;
    size_t have = 0;
    while (fd >= 0) {
        ssize_t got = read(fd, text + have, MAPS_BUFFER - have);
        if (got <= 0) break;
        have += (size_t)got;
        char *line = text, *nl;
        while ((nl = memchr(line, '\n', have - (size_t)(line - text)))) {
            uint64_t lo = 0, hi = 0;
            const char *c = line;
            for (; c < nl && *c != '-'; c++) lo = lo * 16 + (uint64_t)(*c <= '9' ? *c - '0' : (*c | 0x20) - 'a' + 10);
            for (c++; c < nl && *c != ' '; c++) hi = hi * 16 + (uint64_t)(*c <= '9' ? *c - '0' : (*c | 0x20) - 'a' + 10);
            fn(lo, hi, c, nl);
            line = nl + 1;
        }
        have -= (size_t)(line - text);
        memmove(text, line, have);
        if (have == MAPS_BUFFER) have = 0; /* a line longer than the buffer: dropped */
    }
    if (fd >= 0) close(fd);
}

/* The strangers that stopped, by stack pointer, as (sp, index) pairs. */
static struct block *by_sp;
static uint64_t nby_sp;

static void bound_stranger(uint64_t lo, uint64_t hi, const char *rest, const char *end) {
    if (end - rest < 2 || rest[1] != 'r') return; /* " r..." */
    uint64_t first = 0, last = nby_sp; /* the first at or above lo */
    while (first < last) {
        uint64_t mid = first + (last - first) / 2;
        if (by_sp[mid].addr < lo) first = mid + 1;
        else last = mid;
    }
    for (uint64_t i = first; i < nby_sp && by_sp[i].addr < hi; i++) {
        strangers[by_sp[i].size].lo = lo;
        strangers[by_sp[i].size].hi = hi;
    }
}

/* Finds the mapping that holds each stopped stranger's stack pointer. */
static void bound_strangers(void) {
    uint64_t bytes = ((uint64_t)nstrangers * sizeof *by_sp + 4095) & ~4095ull;
    by_sp = nstrangers ? mt_map(bytes) : NULL;
    char *text = by_sp ? mt_map(MAPS_BUFFER) : NULL;
    if (text) {
        nby_sp = 0;
        for (uint32_t i = 0; i < nstrangers; i++) {
            strangers[i].lo = strangers[i].hi = 0;
            if (strangers[i].suspended) by_sp[nby_sp++] = (struct block){strangers[i].sp, i};
        }
        sort_blocks(by_sp, nby_sp);
        for_each_mapping(text, bound_stranger);
        mt_unmap(text, MAPS_BUFFER);
    }
    if (by_sp) mt_unmap(by_sp, bytes);
    by_sp = NULL;
}

static void scan_strangers(void) {
    for (uint32_t i = 0; i < nstrangers; i++) {
        const struct stranger *t = &strangers[i];
        if (!t->suspended || !t->hi) continue; /* under glibc, its whole stack among the anonymous roots */
        for (int r = 0; r < 32; r++) {
            int64_t b = find_block(t->regs[r]);
            if (b >= 0) mark(b, t->regs[r] == blocks[b].addr ? REACHED : POSSIBLE);
        }
        uint64_t from = t->sp - 128 > t->lo ? t->sp - 128 : t->lo, to = t->hi; /* the red zone */
        int64_t block = find_block(t->sp);
        if (block >= 0) { /* a stack in the heap: the rest of the heap is no root */
            from = from > blocks[block].addr ? from : blocks[block].addr;
            to = blocks[block].addr + blocks[block].size;
        }
        scan_root_range(from, to, REACHED);
    }
}

/* ---- stacks of threads that ended (threadstats.c) -------------------------------
 * Left out of the roots only while each is still what glibc left: an idle
 * stack in its cache, a writable anonymous mapping of exactly its range, and
 * only when every thread's stack is placed (a thread the scan
 * could not stop, running on a stack it took from the cache, holds its
 * pointers there).  A range glibc unmapped and the program mapped again for
 * something else is a root as any other. */
static struct mt_range ended_ranges[MT_ENDED_STACKS];
static uint64_t ended_tcbs[MT_ENDED_STACKS]; /* 0: joined */
static uint8_t ended_main[MT_ENDED_STACKS];
static uint8_t ended_idle[MT_ENDED_STACKS];
static uint32_t nended_ranges;

static void collect_ended(uint64_t lo, uint64_t hi, uint64_t tcb, int main_thread) {
    if (nended_ranges == MT_ENDED_STACKS) return;
    ended_tcbs[nended_ranges] = tcb;
    ended_main[nended_ranges] = (uint8_t)main_thread;
    ended_ranges[nended_ranges++] = (struct mt_range){lo, hi};
}

/* An ended thread's control block stays a root, as memcheck has it, while
 * no join collected its result, which waits there, and while its stack is
 * still in glibc's cache (else the address is something else's).  Its static
 * TLS too for the main thread (pthread_exit), whose TLS is a block of its
 * own; another thread's lies right above the first frames of its stack,
 * whose dead slots the static TLS's reserve would take in. */
static void scan_ended_tls(void) {
    for (uint32_t i = 0; i < nended_ranges; i++) {
        uint64_t tcb = ended_tcbs[i];
        if (!tcb || !(ended_idle[i] || ended_main[i])) continue;
        scan_root_range(ended_main[i] ? tcb - static_tls_size() : tcb, tcb + 2560, REACHED);
    }
}

/* Does a line of /proc/self/maps, after "lo-hi", say readable and writable,
 * executable or not (a JIT's code; every thread stack of a program that asks
 * for executable stacks), and private (or, with `shared`, shared too)? */
static int readable_writable(const char *c, const char *end, int shared) {
    return end - c >= 5 && c[1] == 'r' && c[2] == 'w' && (c[3] == '-' || c[3] == 'x') &&
           (c[4] == 'p' || (shared && c[4] == 's'));
}

/* A stack glibc keeps in its cache is a private anonymous mapping of its own
 * (right above its guard page, unless the thread had none, as the JVM makes
 * them): exactly the range the thread had. */
static void find_idle_ended(uint64_t lo, uint64_t hi, const char *c, const char *end) {
    int writable = readable_writable(c, end, 0);
    const char *inode = c + 5;
    for (int field = 0; field < 2 && inode < end; field++) { /* past offset and device */
        while (inode < end && *inode == ' ') inode++;
        while (inode < end && *inode != ' ') inode++;
    }
    while (inode < end && *inode == ' ') inode++;
    int anonymous = inode < end && *inode == '0' && (inode + 1 == end || inode[1] == ' ');
    if (writable && anonymous)
        for (uint32_t i = 0; i < nended_ranges; i++)
            if (ended_ranges[i].lo == lo && ended_ranges[i].hi == hi) ended_idle[i] = 1;
}

/* Which ended threads' stacks are still idle in glibc's cache. */
static void find_ended_stacks(void) {
    nended_ranges = 0;
    mt_ended_stacks_foreach(collect_ended);
    memset(ended_idle, 0, sizeof ended_idle);
    char *text = nended_ranges ? mt_map(MAPS_BUFFER) : NULL;
    if (text) {
        for_each_mapping(text, find_idle_ended);
        mt_unmap(text, MAPS_BUFFER);
    }
}

static void skip_ended_stacks(void) {
    if (unplaced_strangers) return;
    for (uint32_t i = 0; i < nstrangers; i++)
        if (!strangers[i].suspended) return;
    for (uint32_t i = 0; i < nended_ranges; i++)
        if (ended_idle[i]) skip_add(ended_ranges[i].lo, ended_ranges[i].hi);
}

static void skip_strangers(void) {
    for (uint32_t i = 0; i < nstrangers; i++)
        if (strangers[i].suspended && strangers[i].hi) skip_add(strangers[i].lo, strangers[i].hi);
}

/* One line of /proc/self/maps, after "lo-hi": " perms offset dev inode   [path]". */
/* Memory the program mapped readable and writable, executable or not (a JIT's
 * code, where a JVM keeps pointers to its compiled methods' records):
 * private anonymous mappings, and, as memcheck has them, shared ones
 * (anonymous ones show as /dev/zero) and files' (a module's data is among
 * those, read twice), but no device's. */
static void consider(uint64_t lo, uint64_t hi, const char *c, const char *end) {
    if (!readable_writable(c, end, 1)) return;
    int file = 0;
    int field = 0; /* offset, dev, inode, then the path */
    for (c += 5; c < end && field < 3; field++) {
        while (c < end && *c == ' ') c++;
        const char *start = c;
        while (c < end && *c != ' ') c++;
        if (field == 2) file = !(c - start == 1 && *start == '0');
    }
    while (c < end && *c == ' ') c++;
    if (!file && end - c >= 5 && memcmp(c, "/SYSV", 5) == 0) file = 1; /* System V memory whose id is 0 */
    if (file) {
        /* Not a device's (by its mode, as memcheck: hugetlbfs lives under /dev too). */
        char path[256];
        size_t n = (size_t)(end - c) < sizeof path - 1 ? (size_t)(end - c) : sizeof path - 1;
        memcpy(path, c, n);
        path[n] = 0;
        struct stat info;
        if (path[0] == '/' && stat(path, &info) == 0 && (S_ISCHR(info.st_mode) || S_ISBLK(info.st_mode))) return;
        scan_touched(lo, hi, 0);
        return;
    }
    if (c < end && !(end - c >= 6 && memcmp(c, "[anon:", 6) == 0)) return; /* [heap], [stack], [vvar]... */
    if (end - c >= 13 && memcmp(c, "[anon: glibc:", 13) == 0) return;
    scan_touched(lo, hi, 1);
}

static void scan_anonymous(void) {
    const struct mt_range *own;
    int owned = mt_own_mappings(&own);
    if (!mt_glibc_chunks || owned < 0) return;
    /* thread stacks and strangers, ended threads' stacks, the helper, the tracer, these two */
    skip_cap = (uint64_t)owned + 8192 + MT_ENDED_STACKS + 8;
    uint64_t skip_bytes = (skip_cap * sizeof *skip + 4095) & ~4095ull;
    skip = mt_map(skip_bytes);
    char *text = mt_map(MAPS_BUFFER);
    owned = mt_own_mappings(&own); /* these two among them */
    if (skip && text && owned >= 0) {
        nskip = 0;
        for (int i = 0; i < owned; i++) skip_add(__atomic_load_n(&own[i].lo, __ATOMIC_ACQUIRE), own[i].hi);
        skip_add(mt_helper_stack.lo, mt_helper_stack.hi);
        /* The tracer's .bss past its file's last page is a mapping without a
         * name: the scan's own `lowest` named the lowest block there. */
        uint64_t self_lo, self_hi;
        mt_self_range(&self_lo, &self_hi);
        skip_add(self_lo, (self_hi + 4095) & ~4095ull);
        mt_threads_foreach(skip_stack, NULL);
        skip_ended_stacks();
        skip_strangers();
        sort_blocks(skip, nskip);
        for_each_mapping(text, consider);
    }
    if (text) mt_unmap(text, MAPS_BUFFER);
    mt_unmap(skip, skip_bytes);
    skip = NULL;
}

int mt_leaks_scan(const struct mt_buf *roots) {
    scanned = 0;
    if (collect_blocks() != 0) return -1;
    if (!nblocks) {
        scanned = 1;
        return 0;
    }
    /* Ignored blocks are roots; strip the flag from the sizes. */
    work_len = 0;
    for (uint64_t i = 0; i < nblocks; i++) {
        int ignored = (int)(blocks[i].size >> 63);
        blocks[i].size = (blocks[i].size << 1) >> 1;
        if (ignored) mark((int64_t)i, REACHED);
    }

    /* Stop the other threads. */
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_suspend;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigfillset(&sa.sa_mask);
    sigaction(SUSPEND_SIGNAL, &sa, &old);
    struct suspend_state s = {.self = mt_thread_self(), .sent = 0};
    __atomic_store_n(&release_threads, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&acks, 0, __ATOMIC_RELEASE);
    mt_threads_foreach(send_suspend, &s);
    suspend_strangers(&s);
    for (int waited = 0; waited < 500 && __atomic_load_n(&acks, __ATOMIC_ACQUIRE) < s.sent; waited++) {
        struct timespec pause = {0, 200000};
        mt_sleep(&pause);
    }

    /* Roots. */
    const uint64_t *r = (const uint64_t *)roots->data;
    for (size_t i = 0; i + 1 < roots->len / 8; i += 2) scan_root_range(r[i], r[i + 1], REACHED);
    scan_own_stack();
    mt_threads_foreach(scan_thread, &s);
    mt_threads_foreach(scan_tls, &s);
    find_ended_stacks();
    scan_ended_tls();
    scan_ended_main();
    bound_strangers();
    scan_strangers();
    scan_anonymous();
    drain();

    __atomic_store_n(&release_threads, 1, __ATOMIC_RELEASE);

    /* What is left unreached leaked.  Walk from each unreached block that no
     * earlier walk reached: whatever it reaches is indirect. */
    for (uint64_t i = 0; i < nblocks; i++) kind[i] = state[i] == REACHED ? 0 : state[i] == POSSIBLE ? 3 : 1;
    for (uint64_t leader = 0; leader < nblocks; leader++) {
        if (state[leader] != UNREACHED || kind[leader] == 2) continue;
        work_len = 0;
        work[work_len++] = (uint32_t)leader;
        while (work_len > 0) {
            uint32_t i = work[--work_len];
            uint64_t from = (blocks[i].addr + 7) & ~7ull, to = blocks[i].addr + blocks[i].size;
            for (uint64_t a = from; a + 8 <= to; a += 8) {
                int64_t j = find_block(*(const uint64_t *)(uintptr_t)a);
                if (j < 0 || (uint64_t)j == leader || state[j] != UNREACHED || kind[j] == 2) continue;
                kind[j] = 2;
                if (work_len < 2 * nblocks) work[work_len++] = (uint32_t)j;
            }
        }
    }
    /* A thread the signal has not reached yet would meet the program's
     * disposition (for a real-time signal by default: the end of the
     * process): wait for every one, and if some still have not come, keep
     * this handler, which now returns at once. */
    for (int waited = 0; waited < 5000 && __atomic_load_n(&acks, __ATOMIC_ACQUIRE) < s.sent; waited++) {
        struct timespec pause = {0, 200000};
        mt_sleep(&pause);
    }
    if (__atomic_load_n(&acks, __ATOMIC_ACQUIRE) >= s.sent) sigaction(SUSPEND_SIGNAL, &old, NULL);
    scanned = 1;
    return 0;
}

/* The kind of the live block at `addr` after a scan (0 when not scanned). */
uint32_t mt_leak_kind(uint64_t addr) {
    if (!scanned || !nblocks) return 0;
    int64_t i = find_block(addr);
    return i >= 0 && blocks[i].addr == addr ? kind[i] : 0;
}

int mt_leaks_scanned(void) { return scanned; }

void mt_leaks_release(void) {
    if (root_buffer) {
        mt_unmap(root_buffer, ROOT_CHUNK);
        root_buffer = NULL;
    }
    void *maps[4] = {blocks, state, kind, work};
    for (int i = 0; i < 4; i++) mt_unmap(maps[i], map_bytes[i]);
    blocks = NULL;
    state = kind = NULL;
    work = NULL;
    nblocks = 0;
    scanned = 0;
}
