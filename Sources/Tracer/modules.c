/*
 * The module map written into every snapshot: each loaded ELF object's path,
 * load bias, PT_LOAD segments and GNU build-id, from dl_iterate_phdr.  With
 * the build-id the analyser can find the right file (or its separate debug
 * info) on another machine, and with the bias it can undo ASLR.
 */
#include <dlfcn.h>
#include <link.h>
#include <malloc.h>
#include <string.h>

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

uint32_t mt_modules_collect(struct mt_buf *out) {
    struct collect c = {.out = out, .count = 0};
    mt_buf_u32(out, 0); /* count, patched below */
    mt_buf_u32(out, 0);
    dl_iterate_phdr(add_module, &c);
    if (!out->failed) memcpy(out->data, &c.count, 4);
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
 * otherwise.  jemalloc caches its statistics: writing "epoch" refreshes them. */
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
