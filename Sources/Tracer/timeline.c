/*
 * Heap usage over time: every MEMTRACE_TIMELINE seconds the helper thread
 * notes the live bytes, the peak so far and the resident set size.  At most
 * MT_TIMELINE_POINTS are held; when full, every other point is dropped and
 * the spacing doubles, so a run of any length keeps an even picture of its
 * whole life in 128 KiB.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tracer.h"

static struct mt_timeline_point *points;
static uint32_t count;
static uint32_t stride = 1, skipped; /* keep one tick in `stride` */
static mt_lock_t lock;

static uint64_t rss_bytes(void) {
    char buf[128];
    int fd = mt_open("/proc/self/statm", O_RDONLY, 0);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *p = strchr(buf, ' '); /* size resident shared ... (pages) */
    return p ? strtoull(p + 1, NULL, 10) * (uint64_t)mt_page_size() : 0;
}

/* Live bytes as published: short by at most mt_publish_bytes per thread
 * (recorder.c); the timeline's ticks and a snapshot's final point put in
 * the threads' unpublished changes. */
void mt_timeline_now(struct mt_timeline_point *out) {
    out->time_ns = mt_now_ns();
    out->current_bytes = __atomic_load_n(&mt_global.current, __ATOMIC_RELAXED);
    out->peak_bytes = __atomic_load_n(&mt_global.peak, __ATOMIC_RELAXED);
    out->rss_bytes = rss_bytes();
}

void mt_timeline_tick(void) {
    if (!points) {
        points = mt_map(MT_TIMELINE_POINTS * sizeof *points);
        if (!points) return;
    }
    if (++skipped < stride) return;
    skipped = 0;
    struct mt_timeline_point p;
    mt_timeline_now(&p);
    /* A program whose heap moves by less than mt_publish_bytes would
     * otherwise show a flat line at 0 until its last point. */
    p.current_bytes = mt_tstats_current_now();
    /* The peak was read before the sum (mt_timeline_now), and a thread raises
     * it only after its own total moved: the peak so far is at least this. */
    if (p.peak_bytes < p.current_bytes) p.peak_bytes = p.current_bytes;
    mt_lock(&lock);
    if (count == MT_TIMELINE_POINTS) {
        for (uint32_t i = 0; i < count / 2; i++) points[i] = points[2 * i + 1];
        count /= 2;
        stride *= 2;
    }
    points[count++] = p;
    mt_unlock(&lock);
}

uint32_t mt_timeline_copy(struct mt_timeline_point *out, uint32_t max) {
    mt_lock(&lock);
    uint32_t n = count < max ? count : max;
    if (points) memcpy(out, points, n * sizeof *out);
    mt_unlock(&lock);
    return n;
}

/* fork: the helper thread may be inside mt_timeline_tick at that moment, so
 * the lock is held across fork (mt_timeline_lock in the prepare handler) and
 * the child starts a timeline of its own. */
void mt_timeline_lock(void) { mt_lock(&lock); }
void mt_timeline_unlock(void) { mt_unlock(&lock); }

void mt_timeline_reset_locked(void) {
    count = 0;
    stride = 1;
    skipped = 0;
}
