/*
 * Frame rules from .eh_frame (x86_64), for the unwinder's fast path.
 *
 * For one code address the unwinder needs three things to step to the caller:
 * where the canonical frame address (CFA) is (rsp or rbp plus an offset), that
 * the return address sits at CFA-8, and whether rbp was saved (at CFA plus an
 * offset) or is unchanged.  This file finds the address's FDE through the
 * module's .eh_frame_hdr search table and runs the CIE's and the FDE's call
 * frame instructions up to the address to get those three.  Everything else a
 * frame description can say (DWARF expressions, signal frames, a CFA in
 * another register, a return address elsewhere) is answered MT_CFI_UNSUPPORTED,
 * and the unwinder hands that stack to libunwind, which knows all of it.
 *
 * The slow path only: unwind.c caches every answer by address.
 */
#include <link.h>
#include <string.h>

#include "tracer.h"

#if defined(__x86_64__)

enum { REG_RBP = 6, REG_RSP = 7, REG_RA = 16 };

/* ---- the modules' .eh_frame_hdr tables ---------------------------------- */
#define MAX_MODULES 1024
struct module {
    uint64_t lo, hi;
    const uint8_t *hdr; /* NULL: no PT_GNU_EH_FRAME */
};
static struct module modules[MAX_MODULES];
static int module_count;
static mt_lock_t cfi_lock;

static int add_module(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size, (void)data;
    if (module_count == MAX_MODULES) return 1;
    struct module m = {UINT64_MAX, 0, NULL};
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uint64_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            if (start < m.lo) m.lo = start;
            if (start + ph->p_memsz > m.hi) m.hi = start + ph->p_memsz;
        } else if (ph->p_type == PT_GNU_EH_FRAME) {
            m.hdr = (const uint8_t *)(uintptr_t)start;
        }
    }
    if (m.lo < m.hi) modules[module_count++] = m;
    return 0;
}

static const struct module *find_module(uint64_t ip) {
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < module_count; i++)
            if (ip >= modules[i].lo && ip < modules[i].hi) return &modules[i];
        if (pass == 0) { /* a library loaded since the last look */
            module_count = 0;
            mt_iterate_phdr(add_module, NULL);
        }
    }
    return NULL;
}

/* ---- reading DWARF ------------------------------------------------------ */
struct reader {
    const uint8_t *p, *end;
    int bad;
};

static uint64_t uleb(struct reader *r) {
    uint64_t v = 0;
    for (unsigned shift = 0; r->p < r->end; shift += 7) {
        uint8_t b = *r->p++;
        if (shift < 64) v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
    r->bad = 1;
    return 0;
}

static int64_t sleb(struct reader *r) {
    int64_t v = 0;
    unsigned shift = 0;
    while (r->p < r->end) {
        uint8_t b = *r->p++;
        if (shift < 64) v |= (int64_t)((uint64_t)(b & 0x7f) << shift);
        shift += 7;
        if (!(b & 0x80)) {
            if (shift < 64 && (b & 0x40)) v |= -((int64_t)1 << shift);
            return v;
        }
    }
    r->bad = 1;
    return 0;
}

static uint64_t fixed(struct reader *r, unsigned n) {
    if ((size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return 0;
    }
    uint64_t v = 0;
    memcpy(&v, r->p, n); /* little-endian */
    r->p += n;
    return v;
}

/* A DW_EH_PE-encoded pointer; `data` is the base of datarel values. */
static uint64_t encoded(struct reader *r, uint8_t enc, uint64_t data) {
    if (enc == 0xff) return 0; /* omitted */
    uint64_t at = (uint64_t)(uintptr_t)r->p, v;
    switch (enc & 0x0f) {
    case 0x00: v = fixed(r, 8); break;
    case 0x01: v = uleb(r); break;
    case 0x02: v = fixed(r, 2); break;
    case 0x03: v = fixed(r, 4); break;
    case 0x04: v = fixed(r, 8); break;
    case 0x09: v = (uint64_t)sleb(r); break;
    case 0x0a: v = (uint64_t)(int64_t)(int16_t)fixed(r, 2); break;
    case 0x0b: v = (uint64_t)(int64_t)(int32_t)fixed(r, 4); break;
    case 0x0c: v = fixed(r, 8); break;
    default: r->bad = 1; return 0;
    }
    switch (enc & 0x70) {
    case 0x00: break;
    case 0x10: v += at; break;
    case 0x30: v += data; break;
    default: r->bad = 1; return 0;
    }
    if (enc & 0x80) { /* indirect */
        if (!v) {
            r->bad = 1;
            return 0;
        }
        v = *(const uint64_t *)(uintptr_t)v;
    }
    return v;
}

/* Length-prefixed entry (CIE or FDE) starting at p: its body, after the length. */
static int entry(const uint8_t *p, struct reader *body) {
    uint32_t len32;
    memcpy(&len32, p, 4);
    p += 4;
    uint64_t len = len32;
    if (len32 == 0xffffffffu) {
        memcpy(&len, p, 8);
        p += 8;
    }
    if (len == 0 || len > (1u << 24)) return -1;
    body->p = p;
    body->end = p + len;
    body->bad = 0;
    return 0;
}

/* ---- the rule machine --------------------------------------------------- */
enum { SAME = 0, AT_OFFSET = 1, OTHER = 2, UNDEF = 3 };
struct state {
    int cfa_reg;
    int64_t cfa_off;
    int rbp_kind, ra_kind;
    int64_t rbp_off, ra_off;
};

struct cie {
    uint64_t code_align;
    int64_t data_align;
    uint64_t ra_reg;
    uint8_t fde_enc;
    int has_aug_data, signal;
    struct reader init; /* initial instructions */
};

static int parse_cie(const uint8_t *p, struct cie *c) {
    struct reader r;
    if (entry(p, &r) != 0) return -1;
    uint32_t id = (uint32_t)fixed(&r, 4);
    if (id != 0 || r.bad) return -1;
    uint8_t version = (uint8_t)fixed(&r, 1);
    const char *aug = (const char *)r.p;
    size_t auglen = strnlen(aug, (size_t)(r.end - r.p));
    r.p += auglen + 1;
    c->code_align = uleb(&r);
    c->data_align = sleb(&r);
    c->ra_reg = version == 1 ? fixed(&r, 1) : uleb(&r);
    c->fde_enc = 0;
    c->has_aug_data = 0;
    c->signal = 0;
    const uint8_t *aug_end = NULL;
    for (size_t i = 0; i < auglen && !r.bad; i++) {
        switch (aug[i]) {
        case 'z': {
            uint64_t n = uleb(&r);
            aug_end = r.p + n;
            c->has_aug_data = 1;
            break;
        }
        case 'R': c->fde_enc = (uint8_t)fixed(&r, 1); break;
        case 'L': fixed(&r, 1); break;
        case 'P': {
            uint8_t enc = (uint8_t)fixed(&r, 1);
            encoded(&r, enc & 0x7f, 0); /* skip the personality pointer, never dereferenced */
            break;
        }
        case 'S': c->signal = 1; break;
        default:
            if (!aug_end) return -1; /* unknown augmentation without a length to skip it */
            i = auglen;
            break;
        }
    }
    if (aug_end) r.p = aug_end;
    if (r.bad || r.p > r.end) return -1;
    c->init = r;
    return 0;
}

/* Runs instructions until the location passes `target`.  Returns 0, or -1 on
 * anything outside what this file understands. */
static int run(struct reader *r, const struct cie *c, struct state *s, const struct state *initial, uint64_t *loc,
               uint64_t target, uint64_t data) {
    struct state saved[8];
    int depth = 0;
    while (r->p < r->end && !r->bad) {
        uint8_t op = *r->p++;
        uint64_t reg = 0, delta = 0;
        int64_t off = 0;
        switch (op >> 6) {
        case 1: delta = op & 0x3f; goto advance;
        case 2:
            reg = op & 0x3f;
            off = (int64_t)uleb(r) * c->data_align;
            goto offset;
        case 3: reg = op & 0x3f; goto restore;
        default: break;
        }
        switch (op) {
        case 0x00: continue; /* nop */
        case 0x01: {         /* set_loc */
            uint64_t to = encoded(r, c->fde_enc, data);
            if (to > target) return 0;
            *loc = to;
            continue;
        }
        case 0x02: delta = fixed(r, 1); goto advance;
        case 0x03: delta = fixed(r, 2); goto advance;
        case 0x04: delta = fixed(r, 4); goto advance;
        case 0x05:
            reg = uleb(r);
            off = (int64_t)uleb(r) * c->data_align;
            goto offset;
        case 0x06: reg = uleb(r); goto restore;
        case 0x07: reg = uleb(r); goto undefined;
        case 0x08: reg = uleb(r); goto same;
        case 0x09: /* register */
            reg = uleb(r);
            uleb(r);
            goto other;
        case 0x0a:
            if (depth == 8) return -1;
            saved[depth++] = *s;
            continue;
        case 0x0b: {
            if (depth == 0) return -1;
            /* restore_state brings back the register rules, not the CFA in
             * DWARF 5 terms; GCC and LLVM use it around both, and so do we. */
            *s = saved[--depth];
            continue;
        }
        case 0x0c:
            s->cfa_reg = (int)uleb(r);
            s->cfa_off = (int64_t)uleb(r);
            continue;
        case 0x0d: s->cfa_reg = (int)uleb(r); continue;
        case 0x0e: s->cfa_off = (int64_t)uleb(r); continue;
        case 0x0f: return -1; /* def_cfa_expression */
        case 0x10:            /* expression */
        case 0x16: {          /* val_expression */
            reg = uleb(r);
            uint64_t n = uleb(r);
            if (n > (uint64_t)(r->end - r->p)) return -1;
            r->p += n;
            goto other;
        }
        case 0x11:
            reg = uleb(r);
            off = sleb(r) * c->data_align;
            goto offset;
        case 0x12:
            s->cfa_reg = (int)uleb(r);
            s->cfa_off = sleb(r) * c->data_align;
            continue;
        case 0x13: s->cfa_off = sleb(r) * c->data_align; continue;
        case 0x14: /* val_offset */
            reg = uleb(r);
            uleb(r);
            goto other;
        case 0x15:
            reg = uleb(r);
            sleb(r);
            goto other;
        case 0x2e: uleb(r); continue; /* GNU_args_size */
        case 0x2f:                    /* GNU_negative_offset_extended */
            reg = uleb(r);
            off = -(int64_t)uleb(r) * c->data_align;
            goto offset;
        default: return -1;
        }
    advance:
        if (*loc + delta * c->code_align > target) return 0;
        *loc += delta * c->code_align;
        continue;
    offset:
        if (reg == REG_RBP) s->rbp_kind = AT_OFFSET, s->rbp_off = off;
        else if (reg == REG_RA) s->ra_kind = AT_OFFSET, s->ra_off = off;
        else if (reg == REG_RSP) return -1;
        continue;
    restore:
        if (!initial) return -1; /* not allowed in a CIE */
        if (reg == REG_RBP) s->rbp_kind = initial->rbp_kind, s->rbp_off = initial->rbp_off;
        else if (reg == REG_RA) s->ra_kind = initial->ra_kind, s->ra_off = initial->ra_off;
        continue;
    undefined:
        if (reg == REG_RA) s->ra_kind = UNDEF;
        else if (reg == REG_RBP) s->rbp_kind = SAME; /* nothing to restore: leave it */
        continue;
    same:
        if (reg == REG_RBP) s->rbp_kind = SAME;
        else if (reg == REG_RA) s->ra_kind = OTHER;
        continue;
    other:
        if (reg == REG_RBP) s->rbp_kind = OTHER;
        else if (reg == REG_RA) s->ra_kind = OTHER;
        else if (reg == REG_RSP) return -1;
        continue;
    }
    return r->bad ? -1 : 0;
}

/* The kernel returns from a signal handler to code that calls rt_sigreturn
 * (mov $15, %rax; syscall).  Its frame is the kernel's, described (if at
 * all) by expressions; and a C library that does not start its unwind entry
 * one byte early would have the byte before it described as some other
 * function.  So a return address there always goes to libunwind. */
static int is_sigreturn(const struct module *m, uint64_t ret) {
    static const uint8_t code[9] = {0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05};
    return ret >= m->lo && ret + sizeof code <= m->hi && memcmp((const void *)(uintptr_t)ret, code, sizeof code) == 0;
}

static int rule_locked(uint64_t ip, struct mt_cfi_rule *out) {
    const struct module *m = find_module(ip);
    if (!m || !m->hdr) return MT_CFI_NOINFO;
    if (is_sigreturn(m, ip + 1)) return MT_CFI_UNSUPPORTED; /* ip is a return address minus one */
    const uint8_t *hdr = m->hdr;
    /* version, eh_frame_ptr encoding, fde_count encoding, table encoding */
    if (hdr[0] != 1 || hdr[3] != 0x3b) return MT_CFI_UNSUPPORTED;
    struct reader r = {hdr + 4, hdr + 4 + 32, 0};
    encoded(&r, hdr[1], (uint64_t)(uintptr_t)hdr);
    uint64_t count = encoded(&r, hdr[2], (uint64_t)(uintptr_t)hdr);
    if (r.bad) return MT_CFI_UNSUPPORTED;
    if (count == 0) return MT_CFI_NOINFO;
    const int32_t *table = (const int32_t *)(const void *)r.p; /* pairs: start, fde; relative to hdr */
    int64_t rel = (int64_t)(ip - (uint64_t)(uintptr_t)hdr);
    uint64_t lo = 0, hi = count;
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (table[2 * mid] <= rel) lo = mid;
        else hi = mid;
    }
    if (table[2 * lo] > rel) return MT_CFI_NOINFO; /* before the first function described */
    const uint8_t *fde = hdr + table[2 * lo + 1];

    struct reader f;
    if (entry(fde, &f) != 0) return MT_CFI_UNSUPPORTED;
    const uint8_t *cie_ptr_at = f.p;
    uint32_t cie_off = (uint32_t)fixed(&f, 4);
    if (cie_off == 0) return MT_CFI_UNSUPPORTED; /* a CIE, not an FDE */
    struct cie c;
    if (parse_cie(cie_ptr_at - cie_off, &c) != 0 || c.ra_reg != REG_RA || c.signal) return MT_CFI_UNSUPPORTED;
    uint64_t data = (uint64_t)(uintptr_t)hdr;
    uint64_t pc_begin = encoded(&f, c.fde_enc, data);
    uint64_t pc_range = encoded(&f, c.fde_enc & 0x0f, data);
    if (f.bad) return MT_CFI_UNSUPPORTED;
    if (ip < pc_begin || ip >= pc_begin + pc_range) return MT_CFI_NOINFO; /* between described functions */
    if (c.has_aug_data) {
        uint64_t n = uleb(&f);
        if (n > (uint64_t)(f.end - f.p)) return MT_CFI_UNSUPPORTED;
        f.p += n;
    }

    struct state s = {REG_RSP, 8, SAME, UNDEF, 0, 0};
    uint64_t loc = pc_begin;
    struct reader init = c.init;
    if (run(&init, &c, &s, NULL, &loc, UINT64_MAX, data) != 0) return MT_CFI_UNSUPPORTED;
    struct state initial = s;
    loc = pc_begin;
    if (run(&f, &c, &s, &initial, &loc, ip, data) != 0) return MT_CFI_UNSUPPORTED;

    if (s.ra_kind == UNDEF) return MT_CFI_END; /* _start, clone: the outermost frame */
    if (s.ra_kind != AT_OFFSET || s.ra_off != -8) return MT_CFI_UNSUPPORTED;
    if (s.cfa_reg != REG_RSP && s.cfa_reg != REG_RBP) return MT_CFI_UNSUPPORTED;
    if (s.cfa_off < INT32_MIN || s.cfa_off > INT32_MAX) return MT_CFI_UNSUPPORTED;
    if (s.rbp_kind == OTHER) return MT_CFI_UNSUPPORTED;
    if (s.rbp_kind == AT_OFFSET && (s.rbp_off == 0 || s.rbp_off < INT16_MIN || s.rbp_off > INT16_MAX))
        return MT_CFI_UNSUPPORTED;
    out->cfa_off = (int32_t)s.cfa_off;
    out->cfa_is_rbp = s.cfa_reg == REG_RBP;
    out->rbp_off = s.rbp_kind == AT_OFFSET ? (int16_t)s.rbp_off : 0;
    return MT_CFI_OK;
}

int mt_cfi_rule(uint64_t ip, struct mt_cfi_rule *out) {
    mt_lock(&cfi_lock);
    int kind = rule_locked(ip, out);
    mt_unlock(&cfi_lock);
    return kind;
}

void mt_cfi_forget_modules(void) {
    mt_lock(&cfi_lock);
    module_count = 0;
    mt_unlock(&cfi_lock);
}

void mt_cfi_lock(void) { mt_lock(&cfi_lock); }
void mt_cfi_unlock(void) { mt_unlock(&cfi_lock); }

#else

int mt_cfi_rule(uint64_t ip, struct mt_cfi_rule *out) {
    (void)ip, (void)out;
    return MT_CFI_UNSUPPORTED;
}
void mt_cfi_forget_modules(void) {}
void mt_cfi_lock(void) {}
void mt_cfi_unlock(void) {}

#endif
