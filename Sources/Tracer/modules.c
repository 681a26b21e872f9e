/*
 * The module map written into every snapshot: each loaded ELF object's path,
 * load bias, PT_LOAD segments and GNU build-id, from dl_iterate_phdr.  With
 * the build-id the analyser can find the right file (or its separate debug
 * info) on another machine, and with the bias it can undo ASLR.
 */
#include <dlfcn.h>
#include <link.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "format.h"
#include "tracer.h"

/* The GNU build-id note, read from the module's PT_NOTE segments in memory. */
static const uint8_t *find_build_id(struct dl_phdr_info *info, uint32_t *len) {
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE) continue;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
        const uint8_t *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            const uint8_t *name = p + sizeof *nh;
            const uint8_t *desc = name + ((nh->n_namesz + 3) & ~3u);
            const uint8_t *next = desc + ((nh->n_descsz + 3) & ~3u);
            if (next > end) break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
                *len = nh->n_descsz;
                return desc;
            }
            p = next;
        }
    }
    *len = 0;
    return NULL;
}

struct collect {
    struct mt_buf *out;
    uint32_t count;
};

static int add_module(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct collect *c = data;
    uint32_t nseg = 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_LOAD) nseg++;
    if (nseg == 0) return 0;
    const char *path = info->dlpi_name;
    /* The executable comes first with an empty name. */
    if (c->count == 0 && (!path || !*path)) path = mt_config.exe;
    if (!path) path = "";
    uint32_t id_len;
    const uint8_t *id = find_build_id(info, &id_len);
    mt_buf_str(c->out, path, strlen(path));
    mt_buf_str(c->out, (const char *)id, id_len);
    mt_buf_u64(c->out, info->dlpi_addr);
    mt_buf_u32(c->out, nseg);
    mt_buf_u32(c->out, 0);
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        struct mt_segment seg = {
            .start = info->dlpi_addr + ph->p_vaddr,
            .size = ph->p_memsz,
            .file_offset = ph->p_offset,
            .flags = ph->p_flags,
        };
        mt_buf_put(c->out, &seg, sizeof seg);
    }
    c->count++;
    return 0;
}

/* ---- the loader's lock in a forked child ------------------------------------
 * dl_iterate_phdr holds the loader's write lock, a recursive mutex in ld.so's
 * _rtld_global, and glibc does not reset it in a forked child (it resets the
 * other one, dl_load_lock): a fork while another thread walked or changed the
 * module list left it held in the child by a thread that is not there, and
 * the child's first dl_iterate_phdr (its exit snapshot's module list) waited
 * for ever.  So the tracer finds the lock at start-up, as the one mutex of
 * _rtld_global that its own dl_iterate_phdr callback holds, and a forked
 * child whose copy is held by another thread borrows it for each of its own
 * walks: the owner field says the calling thread, which the recursive mutex
 * lets in, then names the missing thread again.  The list can be walked
 * whatever the missing thread was doing: ld.so links an object in once it is
 * complete, and unlinks one before it unmaps it.  libunwind walks the list
 * itself: the unwinder does not call it in such a child (unwind.c).
 * pthread_mutex_t's fields are glibc's public ABI. */
static pthread_mutex_t *loader_lock;
static int loader_lock_missing_owner; /* in a forked child: the thread that held it, not there */
static mt_lock_t borrowing;           /* the tracer's own lock: the helper takes it while libc thinks it is alone */

struct lock_search {
    char *lo;
    size_t size;
    int self;
};

static int hold_and_search(struct dl_phdr_info *info, size_t size, void *data) {
    (void)info;
    (void)size;
    struct lock_search *search = data;
    pthread_mutex_t *found = NULL;
    int candidates = 0;
    for (size_t off = 0; off + sizeof(pthread_mutex_t) <= search->size; off += 8) {
        pthread_mutex_t *m = (pthread_mutex_t *)(search->lo + off);
        if (m->__data.__owner == search->self && m->__data.__count >= 1 && m->__data.__lock != 0 &&
            (m->__data.__kind & 0x7f) == PTHREAD_MUTEX_RECURSIVE_NP) {
            found = m;
            candidates++;
        }
    }
    if (candidates == 1) loader_lock = found;
    return 1; /* once */
}

void mt_modules_find_loader_lock(void) {
    void *global = dlsym(RTLD_DEFAULT, "_rtld_global");
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (!global || !dladdr1(global, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym || sym->st_size == 0) return;
    struct lock_search search = {.lo = global, .size = sym->st_size, .self = (int)syscall(SYS_gettid)};
    dl_iterate_phdr(hold_and_search, &search);
}

int mt_loader_lock_missing(void) { return loader_lock_missing_owner != 0; }

void mt_modules_after_fork_child(void) {
    borrowing.v = 0;
    loader_lock_missing_owner = 0;
    if (!loader_lock) return;
    int owner = __atomic_load_n(&loader_lock->__data.__owner, __ATOMIC_RELAXED);
    if (owner != 0 && owner != (int)syscall(SYS_gettid)) loader_lock_missing_owner = owner;
}

static __thread int borrowed_here; /* this thread's walk has it: a nested one (a signal's) just walks */

int mt_iterate_phdr(int (*fn)(struct dl_phdr_info *, size_t, void *), void *data) {
    int missing = loader_lock_missing_owner;
    if (!missing || borrowed_here) return dl_iterate_phdr(fn, data);
    sigset_t all, old; /* no signal's snapshot between the lock and the mark */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    mt_lock(&borrowing);
    borrowed_here = 1;
    int self = (int)syscall(SYS_gettid);
    __atomic_store_n(&loader_lock->__data.__owner, self, __ATOMIC_RELAXED);
    int rc = dl_iterate_phdr(fn, data);
    __atomic_store_n(&loader_lock->__data.__owner, missing, __ATOMIC_RELAXED);
    borrowed_here = 0;
    mt_unlock(&borrowing);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

uint32_t mt_modules_collect(struct mt_buf *out) {
    struct collect c = {.out = out, .count = 0};
    size_t start = out->len;
    mt_buf_u32(out, 0); /* count, patched below */
    mt_buf_u32(out, 0);
    mt_iterate_phdr(add_module, &c);
    if (!out->failed) memcpy(out->data + start, &c.count, 4);
    return c.count;
}

/* The list read last: kept and read under the snapshot lock, or at start-up
 * before the helper thread exists. */
static struct mt_buf last;
static uint32_t last_count;

void mt_modules_keep(const struct mt_buf *modules, uint32_t count) {
    if (modules->failed) return;
    last.len = 0;
    last.failed = 0;
    mt_buf_put(&last, modules->data, modules->len);
    last_count = last.failed ? 0 : count;
}

uint32_t mt_modules_last(struct mt_buf *out) {
    uint32_t count = last_count;
    if (count) mt_buf_put(out, last.data, last.len);
    if (!count) { /* never read: an empty list */
        mt_buf_u32(out, 0);
        mt_buf_u32(out, 0);
    }
    return count;
}

/* ---- allocator statistics --------------------------------------------------
 * jemalloc when it is the allocator (it exports mallctl), glibc's mallinfo2
 * when glibc's is, none for another (tcmalloc, mimalloc: glibc's figures
 * would describe an arena the program does not use).  jemalloc caches its
 * statistics: writing "epoch" refreshes them. */
typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);

static mallctl_fn mallctl;

/* At start-up, in the program's thread: a failed lookup allocates its error
 * message, which the helper thread must not (control.c). */
void mt_allocator_init(void) { mallctl = (mallctl_fn)dlsym(RTLD_DEFAULT, "mallctl"); }

void mt_allocator_collect(struct mt_buf *out) {
    if (mallctl) {
        static const char *names[] = {"stats.allocated", "stats.active",   "stats.resident",
                                      "stats.mapped",    "stats.metadata", "stats.retained"};
        uint64_t epoch = 1;
        size_t len = sizeof epoch;
        mallctl("epoch", &epoch, &len, &epoch, len);
        mt_buf_u32(out, MT_ALLOCATOR_JEMALLOC);
        size_t count_at = out->len;
        uint32_t count = 0;
        mt_buf_u32(out, 0);
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            size_t v = 0;
            len = sizeof v;
            if (mallctl(names[i], &v, &len, NULL, 0) != 0) continue;
            mt_buf_str(out, names[i], strlen(names[i]));
            mt_buf_u64(out, v);
            count++;
        }
        if (!out->failed) memcpy(out->data + count_at, &count, 4);
        return;
    }
    if (!mt_allocator_is_glibc()) {
        mt_buf_u32(out, MT_ALLOCATOR_UNKNOWN);
        mt_buf_u32(out, 0);
        return;
    }
    struct mallinfo2 mi = mallinfo2();
    struct {
        const char *name;
        size_t value;
    } fields[] = {
        {"arena", mi.arena},       {"ordblks", mi.ordblks},   {"smblks", mi.smblks},
        {"hblks", mi.hblks},       {"hblkhd", mi.hblkhd},     {"usmblks", mi.usmblks},
        {"fsmblks", mi.fsmblks},   {"uordblks", mi.uordblks}, {"fordblks", mi.fordblks},
        {"keepcost", mi.keepcost},
    };
    uint32_t n = sizeof fields / sizeof fields[0];
    mt_buf_u32(out, MT_ALLOCATOR_GLIBC);
    mt_buf_u32(out, n);
    for (uint32_t i = 0; i < n; i++) {
        mt_buf_str(out, fields[i].name, strlen(fields[i].name));
        mt_buf_u64(out, fields[i].value);
    }
}
