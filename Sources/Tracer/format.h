/*
 * On-disk layout of a memtrace snapshot, format version 2.
 *
 * docs/snapshot-format.md is the prose description; this header is the
 * authority for the C writer.  Every record is little-endian and packed as
 * declared; the _Static_asserts below pin the sizes so that a change to a
 * record is a deliberate format change, not an accident of padding.
 */
#ifndef MEMTRACE_FORMAT_H
#define MEMTRACE_FORMAT_H

#include <stdint.h>

#define MT_MAGIC "MEMTRACE"
#define MT_FORMAT_VERSION 2u /* 1: the same but for END's checksum, FNV-1a over bytes */

/* Header flags. */
#define MT_FLAG_SAMPLED 0x1u    /* counts are sampled, see TOTALS.sample_rate */
#define MT_FLAG_HAS_BLOCKS 0x2u /* a BLOCKS section is present */

/* What made the snapshot happen. */
enum mt_trigger {
    MT_TRIGGER_EXIT = 0,
    MT_TRIGGER_SIGNAL = 1,
    MT_TRIGGER_INTERVAL = 2,
    MT_TRIGGER_API = 3,
    MT_TRIGGER_TERMINATION = 4, /* a signal ended the program (SIGTERM, SIGINT...): PROCESS "signal" says which */
};

struct mt_file_header {
    char magic[8];             /* "MEMTRACE", no NUL */
    uint32_t version;          /* MT_FORMAT_VERSION */
    uint32_t header_size;      /* sizeof(struct mt_file_header) */
    uint32_t flags;            /* MT_FLAG_* */
    uint32_t frames_limit;     /* MEMTRACE_FRAMES in force */
    uint32_t pid;
    uint32_t ppid;
    uint64_t start_time_ns;    /* CLOCK_REALTIME when tracing started */
    uint64_t snapshot_time_ns; /* CLOCK_REALTIME when this snapshot was taken */
    uint64_t sequence;         /* 0 for the process's first snapshot, then 1, 2, ... */
    uint32_t trigger;          /* enum mt_trigger */
    uint32_t section_count;    /* sections that follow, END included */
};
_Static_assert(sizeof(struct mt_file_header) == 64, "file header is 64 bytes");

/* Every section starts with this header; `length` counts the payload only. */
struct mt_section_header {
    uint32_t tag;
    uint32_t reserved; /* 0 */
    uint64_t length;
};
_Static_assert(sizeof(struct mt_section_header) == 16, "section header is 16 bytes");

enum mt_section_tag {
    MT_SECTION_PROCESS = 1,
    MT_SECTION_TOTALS = 2,
    MT_SECTION_MODULES = 3,
    MT_SECTION_STACKS = 4,
    MT_SECTION_STACK_STATS = 5,
    MT_SECTION_BLOCKS = 6,
    MT_SECTION_ALLOCATOR = 7,
    MT_SECTION_SYMBOLS = 8, /* written by `memtrace symbolize`, never by the tracer */
    MT_SECTION_TIMELINE = 9,
    MT_SECTION_TEMPORARY = 10, /* absent from sampled snapshots: not counted there */
    MT_SECTION_OVERRUNS = 11,  /* only when the tracer found any */
    MT_SECTION_SIZES = 12,     /* allocations by size class; only when there were any */
    MT_SECTION_MISMATCHES = 13, /* blocks released otherwise than allocated; only when any were */
    MT_SECTION_END = 0xFFFFFFFFu,
};

/* TOTALS payload.  Readers accept a longer payload (later fields appended). */
struct mt_totals {
    uint64_t live_bytes;         /* requested bytes of live blocks */
    uint64_t live_blocks;
    uint64_t live_usable_bytes;  /* malloc_usable_size summed over live blocks */
    uint64_t peak_bytes;         /* highest live_bytes seen */
    uint64_t peak_time_ns;       /* CLOCK_REALTIME of that peak */
    uint64_t alloc_calls;        /* successful allocations (realloc counted as one) */
    uint64_t free_calls;         /* frees of traced blocks (realloc's release counted) */
    uint64_t realloc_calls;
    uint64_t total_alloc_bytes;  /* bytes ever allocated */
    uint64_t tracer_overhead_bytes; /* memory the tracer mapped for itself */
    uint64_t untracked_frees;    /* free() of pointers the tracer never saw */
    uint64_t sample_rate;        /* 0: every allocation; else mean bytes between samples */
    uint64_t stack_count;        /* entries in STACKS */
    uint64_t truncated_stacks;   /* stacks deeper than frames_limit */
    uint64_t lost_allocations;   /* allocations not recorded (tables full) */
    uint64_t overrun_blocks;     /* blocks found written one byte past their end (0 in older files) */
    uint64_t mismatch_blocks;    /* blocks released otherwise than allocated (0 in older files) */
};
_Static_assert(sizeof(struct mt_totals) == 136, "totals are 136 bytes");

/* MODULES payload: u32 count, u32 0, then per module:
 *   str path; str build_id (raw bytes); u64 load_bias; u32 segment_count; u32 0;
 *   segment_count x struct mt_segment
 * A str is u32 length + bytes, no NUL, no padding. */
struct mt_segment {
    uint64_t start;       /* runtime address: load_bias + p_vaddr */
    uint64_t size;        /* p_memsz */
    uint64_t file_offset; /* p_offset */
    uint32_t flags;       /* p_flags: PF_X=1, PF_W=2, PF_R=4 */
    uint32_t reserved;
};
_Static_assert(sizeof(struct mt_segment) == 32, "segment is 32 bytes");

/* STACKS payload: u32 count, u32 0, then per stack, in id order from 0:
 *   u32 depth; u32 true_depth; u64 pc[depth]
 * pc[0] is the innermost frame: the call site that called the allocator.
 * Every pc is a return address minus one, so it lies inside the call
 * instruction.  true_depth > depth when the stack was truncated. */
struct mt_stack_header {
    uint32_t depth;
    uint32_t true_depth;
};
_Static_assert(sizeof(struct mt_stack_header) == 8, "stack header is 8 bytes");

/* STACK_STATS payload: u32 count, u32 0, then count x struct mt_stack_stat,
 * one for every stack that ever allocated. */
struct mt_stack_stat {
    uint32_t stack;         /* index into STACKS */
    uint32_t reserved;
    uint64_t live_bytes;
    uint64_t live_count;
    uint64_t total_bytes;   /* ever allocated from this stack */
    uint64_t total_count;
    uint64_t peak_bytes;    /* this stack's live bytes at the global peak */
    uint64_t peak_count;
};
_Static_assert(sizeof(struct mt_stack_stat) == 56, "stack stat is 56 bytes");

/* TEMPORARY and OVERRUNS payloads: u32 count, u32 0, then count x struct
 * mt_stack_figures.  TEMPORARY has one for every stack with a temporary
 * allocation: a block released by free (or operator delete) before its thread
 * allocated anything else; written only when every allocation is recorded
 * (not sampled).  OVERRUNS has the stacks of blocks found written one byte
 * past their end (inblock.c), at most MT_OVERRUN_SITES of them; TOTALS'
 * overrun_blocks counts them all. */
struct mt_stack_figures {
    uint32_t stack; /* index into STACKS */
    uint32_t reserved;
    uint64_t count;
    uint64_t bytes;
};
_Static_assert(sizeof(struct mt_stack_figures) == 24, "stack figures are 24 bytes");

/* MISMATCHES payload: u32 count, u32 0, then count x struct mt_mismatch: the
 * blocks released otherwise than allocated (a block of operator new released
 * by free or delete[], of new[] by delete, of malloc by delete...) or by a
 * sized delete naming another size than the block's (then allocated_by and
 * released_by match, and named_size is that size), grouped by the stacks of
 * the allocation and of the release and by both ways, at most
 * MT_MISMATCH_SITES groups; TOTALS' mismatch_blocks counts them all. */
enum mt_alloc_kind_on_disk { MT_ALLOCATED_BY_MALLOC = 0, MT_ALLOCATED_BY_NEW = 1, MT_ALLOCATED_BY_NEW_ARRAY = 2 };
enum mt_release_on_disk {
    MT_RELEASED_BY_FREE = 0,
    MT_RELEASED_BY_DELETE = 1,
    MT_RELEASED_BY_DELETE_ARRAY = 2,
    MT_RELEASED_BY_REALLOC = 3,
};
struct mt_mismatch {
    uint32_t alloc_stack;   /* index into STACKS */
    uint32_t release_stack; /* index into STACKS */
    uint32_t allocated_by;  /* enum mt_alloc_kind_on_disk */
    uint32_t released_by;   /* enum mt_release_on_disk */
    uint64_t count;
    uint64_t bytes;
    uint64_t named_size;    /* what a sized delete said the block held; 0 when the ways differ */
};
_Static_assert(sizeof(struct mt_mismatch) == 40, "mismatch is 40 bytes");

/* SIZES payload: u32 count, u32 0, then count x struct mt_size_class, for
 * the classes 0 to count - 1 (the last one not empty): every allocation of
 * the run so far (estimated, as every figure, when sampling) by its requested
 * size.  Class c holds the allocations of 2^c to 2^(c+1) - 1 bytes, class 0
 * those of 0 and 1 byte; count is at most 64. */
struct mt_size_class {
    uint64_t count;
    uint64_t bytes;
};
_Static_assert(sizeof(struct mt_size_class) == 16, "size class is 16 bytes");

/* BLOCKS payload: u64 count, then count x struct mt_block, unordered. */
#define MT_BLOCK_IGNORED 0x1u /* marked as intentionally kept */
struct mt_block {
    uint64_t address;
    uint64_t size;  /* requested size */
    uint32_t stack;
    uint32_t flags; /* MT_BLOCK_* */
};
_Static_assert(sizeof(struct mt_block) == 24, "block is 24 bytes");

/* ALLOCATOR payload: u32 kind; u32 count; count x (str name; u64 value). */
enum mt_allocator_kind {
    MT_ALLOCATOR_UNKNOWN = 0,
    MT_ALLOCATOR_GLIBC = 1,    /* names from mallinfo2: arena, ordblks, ... */
    MT_ALLOCATOR_JEMALLOC = 2, /* names are mallctl names: stats.allocated, ... */
};

/* TIMELINE payload: u32 count; u32 0; count x struct mt_timeline_point
 * (u64 time_ns, current_bytes, peak_bytes, rss_bytes), in time order. */

/* PROCESS payload: u32 count; count x (str key; str value).
 * Keys: exe, cmdline (arguments separated by NUL), cwd, output. */

/* END payload: u64 checksum of every byte before the END section header,
 * taken eight bytes at a time: h = MT_SUM_SEED; for each little-endian word w
 * (the last one completed with zero bytes), h = rotl64((h ^ w) * MT_SUM_MUL,
 * 29); and once more with the number of bytes as w.  Each step is a bijection
 * of h for a given w, so a change to any one word always shows.  (Version 1
 * took FNV-1a 64 byte by byte: a fifth of the speed.) */
#define MT_SUM_SEED 0xcbf29ce484222325ull
#define MT_SUM_MUL 0x9e3779b97f4a7c15ull
#define MT_SUM_ROT 29

#endif
