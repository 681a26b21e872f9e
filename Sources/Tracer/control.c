/*
 * Start-up, configuration and the moments a snapshot is taken: at exit, on a
 * signal, every MEMTRACE_INTERVAL seconds, and after fork.
 *
 * Environment (docs/tracer.md):
 *   MEMTRACE_OUTPUT       file name pattern: %p pid, %n sequence, %e executable
 *                         name, %% percent; default memtrace.%e.%p.%n.snap,
 *                         relative to the directory the program started in
 *   MEMTRACE_FRAMES       frames kept per stack, 1..256, default 64
 *   MEMTRACE_SIGNAL       signal that asks for a snapshot: USR2 (default), USR1,
 *                         a name or number, or "off"
 *   MEMTRACE_INTERVAL     seconds between periodic snapshots (fractions allowed)
 *   MEMTRACE_TIMELINE     seconds between timeline points (default 0.1; 0: off)
 *   MEMTRACE_AT_EXIT      0: no snapshot at exit
 *   MEMTRACE_BLOCKS       0: leave per-block data out of snapshots
 *   MEMTRACE_LEAKS        1: classify every block still live at exit by
 *                         reachability (leaks.c) in the exit snapshot
 *   MEMTRACE_OVERRUN_REPORT 0: do not name the sites of heap overruns and
 *                         mismatched releases on stderr at exit (the snapshots
 *                         count them all the same)
 *   MEMTRACE_FOLLOW_FORK  0: children created by fork are not traced
 *   MEMTRACE_FOLLOW_EXEC  0: programs this one executes are not traced
 *   MEMTRACE_SAMPLE       record a sample of allocations, one per BYTES on average
 *                         (Poisson sampling by bytes; k, M suffixes); 0: every one
 *   MEMTRACE_SAMPLE_SEED  seed of the sampler's random numbers (default 1)
 *   MEMTRACE_DISABLE      1: load but record nothing
 *
 * Signal handlers may not take locks or allocate, so the handler only posts a
 * semaphore; a helper thread, started on demand, writes the snapshot.  The
 * helper blocks every signal so the program's own signals never land on it.
 * The same thread writes the snapshot of a program that a signal or _exit()
 * ends (signals.c), then ends it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "format.h"
#include "tracer.h"

struct mt_config mt_config;
volatile int mt_enabled;

uint64_t mt_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t mt_coarse_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- warnings: one line on stderr, once per kind, and the program goes on ---- */
/* All of `s` to standard error, retrying short writes.  SIGPIPE is blocked
 * meanwhile: a standard error whose reader is gone must not end the program
 * (untraced, it would never have written there); the SIGPIPE the write raised
 * is taken back, one that was pending before is left for the program. */
/* The helper has a descriptor table of its own (helper_main): the program's
 * standard error is reached through /proc. */
static __thread int private_files;

void mt_hold_signal(struct mt_held_signal *h, int sig) {
    sigset_t only, pending;
    sigemptyset(&only);
    sigaddset(&only, sig);
    pthread_sigmask(SIG_BLOCK, &only, &h->old);
    sigpending(&pending);
    h->sig = sig;
    h->was_pending = sigismember(&pending, sig);
}

void mt_release_signal(struct mt_held_signal *h, int raised) {
    if (raised && !h->was_pending) {
        sigset_t only;
        sigemptyset(&only);
        sigaddset(&only, h->sig);
        const struct timespec now = {0, 0};
        /* The system call: the interposed sigtimedwait looks for the program's snapshot signal. */
        syscall(SYS_rt_sigtimedwait, &only, NULL, &now, _NSIG / 8);
    }
    pthread_sigmask(SIG_SETMASK, &h->old, NULL);
}

/* Standard error as the program started with it.  A program may close it and
 * open a file of its own, which gets descriptor 2: a warning must not land in
 * its data. */
static dev_t stderr_dev;
static ino_t stderr_ino;
static int stderr_known;

static void note_stderr(void) {
    struct stat st;
    stderr_known = fstat(2, &st) == 0;
    if (stderr_known) {
        stderr_dev = st.st_dev;
        stderr_ino = st.st_ino;
    }
}

/* Whether `fd`, reached as descriptor 2, is still somewhere for messages: the
 * standard error the program started with, a terminal, pipe or socket, or a
 * file the program made its standard error for appending (a daemon's log). */
/* The flags of the program's descriptor 2, for the helper, whose own copy
 * reopened through /proc has flags of its own: the "flags:" line of
 * /proc/self/fdinfo/2, in octal.  -1 when unknown. */
static int program_stderr_flags(void) {
    char text[512];
    int fd = open("/proc/self/fdinfo/2", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n;
    do n = read(fd, text, sizeof text - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0) return -1;
    text[n] = 0;
    const char *line = strstr(text, "flags:");
    if (!line) return -1;
    char *end;
    long flags = strtol(line + 6, &end, 8);
    return end == line + 6 ? -1 : (int)flags;
}

static int for_messages(int fd, int own_description) {
    struct stat st;
    if (fstat(fd, &st) != 0) return 0;
    if ((stderr_known && st.st_dev == stderr_dev && st.st_ino == stderr_ino) || !S_ISREG(st.st_mode)) return 1;
    int flags = own_description ? program_stderr_flags() : fcntl(fd, F_GETFL);
    return flags > 0 && (flags & O_APPEND);
}

/* The program's standard error for the helper, whose descriptor table is its
 * own: the program's open file itself, taken through a pidfd, so that a
 * warning moves the offset the program writes at next (reopened through /proc
 * with O_APPEND, a file `2>log` had the program's next lines written over the
 * warning); or, where that is refused, reopened.  `*shared`: the former. */
static int helper_stderr(int *shared) {
    *shared = 0;
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_getfd)
    int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (pidfd >= 0) {
        int fd = (int)syscall(SYS_pidfd_getfd, pidfd, 2, 0);
        close(pidfd);
        if (fd >= 0) {
            *shared = 1;
            return fd;
        }
    }
#endif
    return open("/proc/self/fd/2", O_WRONLY | O_APPEND | O_CLOEXEC);
}

void mt_say(const char *s) {
    int shared = 1;
    int fd = private_files ? helper_stderr(&shared) : 2;
    if (fd < 0) return;
    if (!for_messages(fd, !shared)) {
        if (fd != 2) close(fd);
        return;
    }
    /* A standard error file at the program's RLIMIT_FSIZE: the warning's write
     * raised SIGXFSZ, which ended a program that never writes that far. */
    struct mt_held_signal pipe, fsize;
    mt_hold_signal(&pipe, SIGPIPE);
    mt_hold_signal(&fsize, SIGXFSZ);
    int broken = 0, too_big = 0;
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t k = write(fd, s, n);
        if (k <= 0) {
            if (k < 0 && errno == EINTR) continue;
            broken = k < 0 && errno == EPIPE;
            too_big = k < 0 && errno == EFBIG;
            break;
        }
        s += k;
        n -= (size_t)k;
    }
    mt_release_signal(&fsize, too_big);
    mt_release_signal(&pipe, broken);
    if (fd != 2) close(fd);
}

void mt_warn(const char *what, const char *path, int err) {
    static int warned_snapshot, warned_other;
    int *flag = strcmp(what, "cannot write snapshot") == 0 ? &warned_snapshot : &warned_other;
    if (__atomic_exchange_n(flag, 1, __ATOMIC_RELAXED)) return;
    int saved = errno;
    char line[1024]; /* one write: processes warning at once do not mix their lines */
    /* A path too long for the line shows its end, so the reason and the newline stay. */
    const char *shown = path, *cut = "";
    if (path && strlen(path) > 600) {
        shown = path + strlen(path) - 600;
        cut = "...";
    }
    snprintf(line, sizeof line, "memtrace: %s%s%s%s%s%s (the program continues; further warnings of this kind are not shown)\n",
             what, path ? " " : "", cut, shown ? shown : "", err ? ": " : "", err ? strerror(err) : "");
    mt_say(line);
    errno = saved;
}

/* ---- configuration --------------------------------------------------------------- */
static const char *env(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* A value the tracer cannot use: one line each, and the default goes on. */
static void config_warn(const char *name, const char *value, const char *problem) {
    char line[512];
    snprintf(line, sizeof line, "memtrace: %s=%.100s%s: %s\n", name, value, strlen(value) > 100 ? "..." : "",
             problem);
    mt_say(line);
}

/* 0 or 1 from a flag's value: `absent` when unset, `unknown` (with a
 * warning) when it is none of the spellings. */
static int env_flag_or(const char *name, int absent, int unknown) {
    const char *v = env(name);
    if (!v) return absent;
    if (strcmp(v, "0") == 0 || strcasecmp(v, "no") == 0 || strcasecmp(v, "off") == 0 || strcasecmp(v, "false") == 0)
        return 0;
    if (strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0 || strcasecmp(v, "on") == 0 || strcasecmp(v, "true") == 0)
        return 1;
    config_warn(name, v, unknown ? "not 0 or 1 (no/yes, off/on, false/true); using 1" :
                                   "not 0 or 1 (no/yes, off/on, false/true); using 0");
    return unknown;
}

static int env_flag(const char *name, int fallback) { return env_flag_or(name, fallback, fallback); }

/* Signals that cannot ask for a snapshot: those no handler can catch, those a
 * fault raises (the handler would return to the faulting instruction for
 * ever), abort's, and the two glibc keeps for itself below SIGRTMIN. */
static int unusable_signal(int sig) {
    return sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL ||
           sig == SIGTRAP || sig == SIGSYS || sig == SIGABRT || (sig > SIGSYS && sig < SIGRTMIN);
}

static int parse_signal(const char *v) {
    if (!v) return SIGUSR2;
    if (strcmp(v, "0") == 0 || strcasecmp(v, "off") == 0 || strcasecmp(v, "none") == 0) return 0;
    const char *given = v;
    int sig = -1;
    char *end;
    /* Digits only, here and after RTMIN+ (strtol would take " 12" and "+12"):
     * as `memtrace snapshot` reads it. */
    if (*v && v[strspn(v, "0123456789")] == 0) {
        long n = strtol(v, &end, 10);
        sig = n > 0 && n < NSIG ? (int)n : -1;
    } else {
        if (strncasecmp(v, "SIG", 3) == 0) v += 3;
        static const struct {
            const char *name;
            int sig;
        } names[] = {{"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"USR1", SIGUSR1},
                     {"USR2", SIGUSR2}, {"PIPE", SIGPIPE},   {"ALRM", SIGALRM}, {"TERM", SIGTERM},
                     {"CHLD", SIGCHLD}, {"CONT", SIGCONT},   {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
                     {"TTOU", SIGTTOU}, {"URG", SIGURG},     {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},
                     {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
                     {"PWR", SIGPWR}, {"KILL", SIGKILL}, {"STOP", SIGSTOP}, {"SEGV", SIGSEGV},
                     {"BUS", SIGBUS}, {"FPE", SIGFPE}, {"ILL", SIGILL}, {"TRAP", SIGTRAP},
                     {"SYS", SIGSYS}, {"ABRT", SIGABRT}, {"IOT", SIGIOT}, {"POLL", SIGPOLL},
                     {"CLD", SIGCHLD}, {"STKFLT", SIGSTKFLT}};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcasecmp(v, names[i].name) == 0) sig = names[i].sig;
        if (strcasecmp(v, "RTMIN") == 0) sig = SIGRTMIN;
        if (strcasecmp(v, "RTMAX") == 0) sig = SIGRTMAX;
        if (strncasecmp(v, "RTMIN+", 6) == 0 || strncasecmp(v, "RTMAX-", 6) == 0) {
            long k = strtol(v + 6, &end, 10);
            if (*end == 0 && v[6] && v[6 + strspn(v + 6, "0123456789")] == 0 && k >= 0 && k <= SIGRTMAX - SIGRTMIN)
                sig = v[5] == '+' ? SIGRTMIN + (int)k : SIGRTMAX - (int)k;
        }
    }
    if (sig < 0) {
        config_warn("MEMTRACE_SIGNAL", given, "not a signal (USR1, RTMIN+3, a number, off...); using USR2");
        return SIGUSR2;
    }
    if (unusable_signal(sig)) {
        config_warn("MEMTRACE_SIGNAL", given,
                    "cannot ask for snapshots (it cannot be caught, a fault or abort raises it, or libc keeps it); "
                    "using USR2");
        return SIGUSR2;
    }
    return sig;
}

/* "524288", "512k", "512KiB", "1M": bytes; 0 when absent, `fallback` (and a
 * warning) when malformed. */
static uint64_t parse_bytes(const char *name, uint64_t fallback, const char *meaning) {
    const char *v = env(name);
    if (!v) return 0;
    char *end;
    double n = strtod(v, &end);
    double unit = 1;
    if (end != v) {
        switch (*end) {
        case 'k': case 'K': unit = 1024; end++; break;
        case 'm': case 'M': unit = 1024 * 1024; end++; break;
        case 'g': case 'G': unit = 1024.0 * 1024 * 1024; end++; break;
        default: break;
        }
        if (unit > 1 && (*end == 'i' || *end == 'I') && (end[1] == 'b' || end[1] == 'B')) end += 2;
        else if (*end == 'b' || *end == 'B') end++;
    }
    if (end == v || *end != 0 || !(n >= 0) || n * unit >= 18446744073709551616.0) {
        char problem[96];
        snprintf(problem, sizeof problem, "not a number of bytes (524288, 512k, 1M...); %s", meaning);
        config_warn(name, v, problem);
        return fallback;
    }
    return (uint64_t)(n * unit);
}

/* The sampler's seed: a whole number from 1 to 2^64-1; 0 when absent (the
 * sampler keeps its own), `fallback` when malformed (with a warning). */
static uint64_t parse_seed(const char *name, uint64_t fallback) {
    const char *v = env(name);
    if (!v) return 0;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (v[strspn(v, "0123456789")] != 0 || end == v || *end != 0 || errno == ERANGE || n == 0) {
        config_warn(name, v, "not a whole number from 1 to 18446744073709551615; using 1");
        return fallback;
    }
    return (uint64_t)n;
}

/* Seconds, fractions allowed; `fallback` when absent or malformed (with a warning). */
static double parse_seconds(const char *name, double fallback, const char *meaning) {
    const char *v = env(name);
    if (!v) return fallback;
    char *end;
    double n = strtod(v, &end);
    if (end == v || *end != 0 || !(n >= 0) || n > 1e9) {
        char problem[96];
        snprintf(problem, sizeof problem, "not a number of seconds; %s", meaning);
        config_warn(name, v, problem);
        return fallback;
    }
    return n;
}

static ssize_t read_file(const char *path, char *buf, size_t cap) {
    int fd = mt_open(path, O_RDONLY, 0);
    if (fd < 0) return -1;
    size_t len = 0;
    while (len < cap) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
    }
    close(fd);
    return (ssize_t)len;
}

static void load_config(void) {
    note_stderr();
    struct mt_config *c = &mt_config;
    c->start_time_ns = mt_now_ns();
    c->frames = MT_DEFAULT_FRAMES;
    const char *v = env("MEMTRACE_FRAMES");
    if (v) {
        char *end;
        long n = strtol(v, &end, 10);
        if (*end == 0 && n >= 1 && n <= MT_MAX_FRAMES) {
            c->frames = (int)n;
        } else {
            char problem[64];
            snprintf(problem, sizeof problem, "not a number of frames from 1 to %d; using %d", MT_MAX_FRAMES,
                     MT_DEFAULT_FRAMES);
            config_warn("MEMTRACE_FRAMES", v, problem);
        }
    }
    c->signal = parse_signal(env("MEMTRACE_SIGNAL"));
    c->interval = parse_seconds("MEMTRACE_INTERVAL", 0, "no periodic snapshots");
    c->timeline = parse_seconds("MEMTRACE_TIMELINE", 0.1, "a point every 0.1 s");
    c->at_exit = env_flag("MEMTRACE_AT_EXIT", 1);
    c->blocks = env_flag("MEMTRACE_BLOCKS", 1);
    c->follow_fork = env_flag("MEMTRACE_FOLLOW_FORK", 1);
    c->follow_exec = env_flag("MEMTRACE_FOLLOW_EXEC", 1);
    c->leaks = env_flag("MEMTRACE_LEAKS", 0);
    c->overrun_report = env_flag("MEMTRACE_OVERRUN_REPORT", 1);
    c->unwind_check = env_flag("MEMTRACE_UNWIND_CHECK", 0);
    c->libunwind = env_flag("MEMTRACE_LIBUNWIND", 0);
    if (c->leaks) c->blocks = 1;

    ssize_t n = readlink("/proc/self/exe", c->exe, sizeof c->exe - 1);
    c->exe[n > 0 ? n : 0] = 0;

    enum { CMDLINE_MAX = 1 << 16 };
    c->cmdline = mt_map(CMDLINE_MAX);
    if (c->cmdline) {
        ssize_t len = read_file("/proc/self/cmdline", c->cmdline, CMDLINE_MAX);
        /* Arguments are NUL-terminated; drop the last terminator. */
        if (len > 0 && c->cmdline[len - 1] == 0) len--;
        c->cmdline_len = len > 0 ? (size_t)len : 0;
    }

    /* An absolute pattern, so a program that changes directory still writes
     * where the user expects. */
    const char *pattern = env("MEMTRACE_OUTPUT");
    if (!pattern) pattern = "memtrace.%e.%p.%n.snap";
    c->output[0] = 0;
    if (pattern[0] != '/') {
        if (getcwd(c->output, sizeof c->output - 2)) strcat(c->output, "/");
        else c->output[0] = 0;
    }
    size_t used = strlen(c->output);
    strncat(c->output, pattern, sizeof c->output - used - 1);
}

/* Removes libtrace.so from LD_PRELOAD so programs we exec run untraced.
 * The environment block is edited in place rather than through setenv or
 * unsetenv: a program may export its own versions of those (bash does, and
 * before its main() runs they change nothing), and the entry only ever gets
 * shorter, so no memory is needed. */
extern char **environ;

static int is_tracer(const char *start, size_t n) {
    const char *base = start + n;
    while (base > start && base[-1] != '/') base--;
    return (size_t)(start + n - base) == strlen("libtrace.so") && memcmp(base, "libtrace.so", 11) == 0;
}

static void drop_preload(void) {
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, "LD_PRELOAD=", 11) != 0) continue;
        char *value = *e + 11;
        char *read = value, *write = value;
        while (*read) {
            while (*read == ' ' || *read == ':') read++;
            char *start = read;
            while (*read && *read != ' ' && *read != ':') read++;
            size_t n = (size_t)(read - start);
            if (n == 0 || is_tracer(start, n)) continue;
            if (write != value) *write++ = ' ';
            memmove(write, start, n);
            write += n;
        }
        *write = 0;
        if (write == value) { /* nothing left: remove the entry */
            char **p = e;
            do p[0] = p[1];
            while (*p++);
            e--;
        }
    }
}

/* ---- the helper thread ---------------------------------------------------------- */
static sem_t wakeup;
static volatile sig_atomic_t signal_requests;
static int helper_running;
static pthread_t helper_thread;
static volatile int helper_stopping; /* the helper is asked to end its thread */
static void helper_uncounted(int uncounted);

static void on_signal(int sig) {
    (void)sig;
    int saved = errno;
    signal_requests++;
    sem_post(&wakeup); /* async-signal-safe */
    errno = saved;
}

/* Waits (up to a tenth of a second) for a helper thread that was created
 * but has not run yet to say which thread it is: until then the leak scan
 * would find a thread it cannot place. */
void mt_helper_wait_started(void) {
    const struct timespec ms = {0, 1000000};
    for (int i = 0; i < 100 && helper_running && !__atomic_load_n(&mt_helper_tid, __ATOMIC_ACQUIRE); i++)
        mt_sleep(&ms);
}

int mt_helper_wake(void) {
    if (!helper_running) return 0;
    sem_post(&wakeup);
    return 1;
}

/* Will a helper thread run? */
static int helper_wanted(void) { return mt_config.signal || mt_config.interval > 0 || mt_config.timeline > 0; }

static void add_seconds(struct timespec *t, double secs) {
    t->tv_sec += (time_t)secs;
    t->tv_nsec += (long)((secs - (double)(time_t)secs) * 1e9);
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

static int before(const struct timespec *a, const struct timespec *b) {
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* The helper thread: periodic snapshots, timeline points, and snapshots the
 * signal handler asked for. */
static __thread int on_helper;

struct mt_range mt_helper_stack;
int mt_helper_tid;

/* The helper's name is how `memtrace snapshot PID` knows, from
 * /proc/PID/task/TID/comm, which signal reaches the tracer's handler:
 * "memtrace" for MEMTRACE_SIGNAL's, "memtrace-sigN" for signal N where the
 * program has a disposition of its own for that one (signals.c moves the
 * handler), "memtrace-nosig" for none (snapshots on signal are off, or the
 * program has taken the spare signals too).  `named`: the signal it was
 * named for, -1 for no name yet. */
static void name_helper(int *named) {
    int sig = mt_config.signal ? mt_signals_snapshot_signal() : 0;
    if (sig == *named) return;
    char name[16] = "memtrace-nosig";
    if (sig == mt_signals_configured_signal()) {
        memcpy(name, "memtrace", 9);
    } else if (sig > 0) {
        memcpy(name, "memtrace-sig", 12);
        name[12] = (char)('0' + sig / 10);
        name[13] = (char)('0' + sig % 10);
        name[14] = 0;
    }
    prctl(PR_SET_NAME, name, 0, 0, 0);
    *named = sig;
}

static void *helper_main(void *arg) {
    (void)arg;
    on_helper = 1;
    __atomic_store_n(&mt_helper_tid, (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
    /* Its own descriptor table, emptied: the files it opens (the timeline's
     * /proc/self/statm, snapshots) never take a number the program is
     * about to reuse.  Opened in the program's table, one could land in the
     * gap of a shell's close(1) and dup2(4, 1); the dup2 closed it, and the
     * helper's close then closed the program's output, or its snapshot went
     * there.  Emptied, so that it holds none of the program's files open
     * (a pipe's reader would never see its end).  Only where close_range
     * can empty it. */
    if (syscall(SYS_close_range, ~0u, ~0u, 0) == 0 && syscall(SYS_unshare, CLONE_FILES) == 0) {
        syscall(SYS_close_range, 0, ~0u, 0);
        private_files = 1;
    }
    mt_guard = 1; /* nothing this thread does is the program's allocation */
    mt_never_leaves = 1; /* and what it allocates comes from the bootstrap buffer */
    pthread_attr_t attr; /* its stack, which the leak scan leaves out: the tracer's frames name blocks */
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *addr;
        size_t size;
        if (pthread_attr_getstack(&attr, &addr, &size) == 0)
            mt_helper_stack = (struct mt_range){(uint64_t)(uintptr_t)addr, (uint64_t)(uintptr_t)addr + size};
        pthread_attr_destroy(&attr);
    }
    int named = -1;
    name_helper(&named);
    struct timespec now, next_snapshot, next_point;
    clock_gettime(CLOCK_MONOTONIC, &now);
    next_snapshot = next_point = now;
    if (mt_config.interval > 0) add_seconds(&next_snapshot, mt_config.interval);
    if (mt_config.timeline > 0) add_seconds(&next_point, mt_config.timeline); /* the first: start_helper */
    for (;;) {
        int timed = mt_config.interval > 0 || mt_config.timeline > 0;
        struct timespec wake = next_snapshot;
        if (mt_config.timeline > 0 && (!(mt_config.interval > 0) || before(&next_point, &wake))) wake = next_point;
        int woke = 0;
        /* Checked before waiting too: the wake-up may have been used up by
         * a snapshot signal's (the loop below takes all pending at once). */
        while (!woke && !mt_signal_ending) {
            int rc = timed ? sem_clockwait(&wakeup, CLOCK_MONOTONIC, &wake) : sem_wait(&wakeup);
            if (rc == 0) woke = 1;
            else if (errno == ETIMEDOUT) break;
        }
        name_helper(&named); /* woken by sigaction or signal() too: snapshot_taken_over */
        int ending = mt_signal_ending;
        if (ending == MT_ENDING_EXIT && mt_config.leaks) {
            mt_snapshot_with_leaks(NULL, MT_TRIGGER_EXIT);
            mt_signals_die(ending);
        } else if (ending) {
            mt_snapshot(NULL, ending == MT_ENDING_EXIT ? MT_TRIGGER_EXIT : MT_TRIGGER_TERMINATION);
            mt_signals_end(ending);
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (mt_config.timeline > 0 && !before(&now, &next_point)) {
            mt_timeline_tick();
            while (!before(&now, &next_point)) add_seconds(&next_point, mt_config.timeline);
        }
        if (mt_config.interval > 0 && !before(&now, &next_snapshot) && !mt_exiting) {
            mt_snapshot(NULL, MT_TRIGGER_INTERVAL);
            /* Counted from the snapshot's end: one that took longer than the
             * interval would otherwise be followed by the next at once, for
             * good, and the exit snapshot would wait for the lock forever. */
            clock_gettime(CLOCK_MONOTONIC, &now);
            while (!before(&now, &next_snapshot)) add_seconds(&next_snapshot, mt_config.interval);
        }
        if (woke && signal_requests > 0) {
            signal_requests = 0;
            while (sem_trywait(&wakeup) == 0) {
            }
            /* Not once the exit snapshot is coming: it would be the last
             * snapshot no more, or a temporary file the exit cut short. */
            if (!mt_exiting) mt_snapshot(NULL, MT_TRIGGER_SIGNAL);
        }
        if (helper_stopping) {
            helper_uncounted(0); /* glibc counts it down as it ends */
            return NULL;
        }
    }
}

/* ---- a program of one thread stays one in glibc's eyes ----------------------
 * glibc's malloc and free take no lock while the process has a single thread
 * (__libc_single_threaded), and pthread_create clears that flag for good:
 * the helper alone would cost a program of one thread an atomic lock and
 * unlock on every allocation and release that misses glibc's thread cache,
 * and the tracer's shards theirs (tracer.h).  The helper never allocates from
 * the real allocator (hooks.c serves it from the bootstrap buffer), looks up
 * no symbol after start-up, shares no pthread mutex with the program (glibc
 * skips a mutex's atomics and wake-ups while the flag is set: the snapshot
 * lock is the tracer's own) and calls nothing else that reads the flag, so
 * when the flag was set before it started it is set again once it runs.
 * Nothing else, that is, but the allocator's statistics (mallinfo2 walks the
 * arena the program's malloc is changing without its lock; jemalloc's mallctl
 * waits on a mutex whose holder never wakes it) and the module list
 * (dl_iterate_phdr takes the loader's lock, a mutex the program takes too):
 * while the flag is set the program's thread reads both for the helper
 * (mt_allocator_stats_safe, mt_allocator_read below).  The
 * program's own first pthread_create clears it as usual, before its new
 * thread exists.  An executable that reads the flag has a copy of its own
 * (a copy relocation), which libc does not read: libc's is looked up in
 * libc itself, and both are set. */
extern char __libc_single_threaded __attribute__((weak));
static char *libc_single_flag;
/* glibc's count of the process's threads: when the last one ends, through
 * pthread_exit (main's included), glibc calls exit(0).  The helper is left
 * out of it, or a program whose main thread called pthread_exit never ended:
 * its last thread left the helper, which blocks every signal, so that even
 * SIGTERM stayed pending, and only SIGKILL ended it. */
static unsigned int *nptl_nthreads;

static void helper_uncounted(int uncounted) {
    if (!nptl_nthreads) return;
    if (uncounted) __atomic_sub_fetch(nptl_nthreads, 1, __ATOMIC_SEQ_CST);
    else __atomic_add_fetch(nptl_nthreads, 1, __ATOMIC_SEQ_CST);
}

int mt_allocator_stats_safe(void) {
    return !on_helper || !libc_single_flag || !__atomic_load_n(libc_single_flag, __ATOMIC_ACQUIRE);
}

/* So the helper asks the program's thread for them, before it locks the
 * live table (snapshot.c): it raises MT_SOLO_STATS, which sends that
 * thread's next record out of its lock-free section (mt_shard_enter), or its
 * wait for any of the tracer's locks (mt_lock_slow), into mt_allocator_serve, outside the
 * allocator and before the record, and waits a while.  A program that does not allocate or
 * release meanwhile (asleep, waiting for input, exiting) gets a snapshot
 * without them. */
#define STATS_WAIT_NS 50000000L /* 50 ms */
enum { STATS_IDLE, STATS_ASKED, STATS_READING, STATS_READ };
static int stats_state;
static struct mt_buf *stats_out, *modules_out;
static uint32_t *modules_count_out;

static void read_both(struct mt_buf *out, struct mt_buf *modules, uint32_t *module_count) {
    mt_allocator_collect(out);
    if (modules) *module_count = mt_modules_collect(modules);
}

int mt_allocator_serve(void) {
    int asked = STATS_ASKED;
    if (on_helper || mt_signal_ending) return 0;
    if (!__atomic_compare_exchange_n(&stats_state, &asked, STATS_READING, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return 0;
    __atomic_and_fetch(&mt_solo, ~MT_SOLO_STATS, __ATOMIC_SEQ_CST);
    read_both(stats_out, modules_out, modules_count_out);
    __atomic_store_n(&stats_state, STATS_READ, __ATOMIC_RELEASE);
    return 1;
}

/* The calling thread, now that it may read the statistics, holds the
 * snapshot lock: the module list is the one read last, not walked under the
 * lock (take(), snapshot.c). */
static void read_stats_keep_modules(struct mt_buf *out, struct mt_buf *modules, uint32_t *module_count) {
    mt_allocator_collect(out);
    if (modules) *module_count = mt_modules_last(modules);
}

int mt_allocator_read(struct mt_buf *out, struct mt_buf *modules, uint32_t *module_count) {
    if (mt_allocator_stats_safe()) {
        read_stats_keep_modules(out, modules, module_count);
        return 1;
    }
    stats_out = out;
    modules_out = modules;
    modules_count_out = module_count;
    __atomic_store_n(&stats_state, STATS_ASKED, __ATOMIC_SEQ_CST);
    __atomic_or_fetch(&mt_solo, MT_SOLO_STATS, __ATOMIC_SEQ_CST);
    const struct timespec pause = {0, 200000};
    int read = 0;
    for (long waited = 0;; waited += pause.tv_nsec) {
        int state = __atomic_load_n(&stats_state, __ATOMIC_ACQUIRE);
        if (state == STATS_READ) {
            read = 1;
            break;
        }
        if (state == STATS_READING) {
            sched_yield();
            continue;
        }
        /* Not yet taken: taken back once the wait is over, or once the
         * program has started a thread (glibc locks from then on). */
        int safe = mt_allocator_stats_safe();
        if ((safe || waited >= STATS_WAIT_NS || mt_exiting || mt_signal_ending) &&
            __atomic_compare_exchange_n(&stats_state, &state, STATS_IDLE, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
            if (safe) read_stats_keep_modules(out, modules, module_count);
            read = safe;
            break;
        }
        mt_sleep(&pause);
    }
    __atomic_and_fetch(&mt_solo, ~MT_SOLO_STATS, __ATOMIC_SEQ_CST);
    __atomic_store_n(&stats_state, STATS_IDLE, __ATOMIC_RELEASE);
    return read;
}

/* The handle is not closed: libc stays for the life of the process anyway,
 * and dlclose (the tracer's own, hooks.c) would flush the frame rules, whose
 * 64 pages every process then faulted in at start-up. */
static void find_single_flag(void) {
    void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    if (libc) libc_single_flag = (char *)dlsym(libc, "__libc_single_threaded");
    if (libc) nptl_nthreads = (unsigned int *)dlvsym(libc, "__nptl_nthreads", "GLIBC_PRIVATE");
}

static void start_helper(void) {
    if (!helper_wanted()) return;
    /* Set by the new helper as it runs (a forked child's, or one started again
     * after unshare, must not be taken for the old one: mt_helper_wait_started). */
    __atomic_store_n(&mt_helper_tid, 0, __ATOMIC_RELEASE);
    /* The first point, here rather than in the helper: reading the RSS opens
     * a descriptor, which a program looking for its lowest free one as it
     * starts would otherwise find taken. */
    if (mt_config.timeline > 0) mt_timeline_tick();
    /* Only for glibc's malloc, whose locks it saves: under another allocator
     * (jemalloc) the helper asks it for sizes, and glibc's mutexes, which
     * that allocator uses, skip their atomics while the flag is set. */
    int single = libc_single_flag && *libc_single_flag && mt_glibc_chunks;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    helper_running = pthread_create(&helper_thread, &attr, helper_main, NULL) == 0;
    if (!helper_running) mt_warn("cannot start the snapshot thread", NULL, errno);
    else helper_uncounted(1);
    if (helper_running && single) {
        *libc_single_flag = 1;
        if (&__libc_single_threaded) __libc_single_threaded = 1;
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void install_signal(void) {
    if (mt_config.signal) mt_signals_install_snapshot(mt_config.signal, on_signal);
}

/* ---- namespaces -----------------------------------------------------------------
 * The kernel lets only a single-threaded process enter a new user namespace
 * (unshare, setns) or another mount namespace (setns): with the helper thread
 * running, `unshare -r` and `nsenter -m` failed with EINVAL.  So for those
 * calls the helper ends its thread and starts again after it (other
 * namespaces, a network one per thread say, need nothing of the kind).  The
 * caller's signals wait meanwhile: one that ended the program would wait in
 * its handler for a helper that is not there to write the snapshot. */
static pthread_mutex_t stepping_aside = PTHREAD_MUTEX_INITIALIZER;

static int without_helper(long call, long a, long b) {
    if (!mt_enabled || !helper_running || mt_guard > 0) return (int)syscall(call, a, b);
    int entry_errno = errno;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    mt_guard++;
    pthread_mutex_lock(&stepping_aside);
    int stopped = helper_running;
    if (stopped) {
        helper_stopping = 1;
        sem_post(&wakeup);
        pthread_join(helper_thread, NULL); /* returns once the kernel has let the thread go */
        helper_stopping = 0;
    }
    int rc = (int)syscall(call, a, b); /* what glibc's unshare and setns are */
    /* The join returns when the kernel wakes it, a moment before it stops
     * counting the thread as one of the process's: until then, EINVAL. */
    for (int tries = 0; rc != 0 && errno == EINVAL && stopped && tries < 200; tries++) {
        struct timespec pause = {0, 100000};
        mt_sleep(&pause);
        rc = (int)syscall(call, a, b);
    }
    int saved = rc == 0 ? entry_errno : errno; /* a success leaves errno as it was */
    /* A process that has unshared its pid namespace may start no thread (the
     * kernel says EINVAL; `unshare -p -f` warned "cannot start the snapshot
     * thread"): its children, in the new namespace, start helpers of their own. */
    int new_pid_namespace = call == SYS_unshare && (a & CLONE_NEWPID) && rc == 0;
    if (stopped && !new_pid_namespace) start_helper();
    pthread_mutex_unlock(&stepping_aside);
    mt_guard--;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return rc;
}

MT_EXPORT int unshare(int flags) {
    if (!(flags & CLONE_NEWUSER)) return (int)syscall(SYS_unshare, flags);
    return without_helper(SYS_unshare, flags, 0);
}

MT_EXPORT int setns(int fd, int nstype) {
    /* 0: whatever namespace fd is; a pidfd takes a set of CLONE_NEW* flags */
    if (nstype != 0 && !(nstype & (CLONE_NEWUSER | CLONE_NEWNS))) return (int)syscall(SYS_setns, fd, nstype);
    return without_helper(SYS_setns, fd, nstype);
}

/* ---- a limit on the address space set by the program itself ----------------------
 * The stack table reserves address space at start, an eighth of the limit
 * then in force (stacktable.c); a program that lowers the limit later below
 * what the tracer holds could map nothing more (bash under `ulimit -v`,
 * Python's resource.setrlimit: MemoryError).  So lowering it makes the table
 * give back what it reserved beyond an eighth of the new one.  The limit is
 * set first: the kernel takes one below what is mapped already. */
static int limit_set(pid_t pid, int resource, const struct rlimit *limit, struct rlimit *old) {
    int rc = (int)syscall(SYS_prlimit64, pid, resource, limit, old);
    if (rc == 0 && resource == RLIMIT_AS && limit && limit->rlim_cur != RLIM_INFINITY &&
        (pid == 0 || pid == getpid()) && mt_enabled && mt_guard == 0 && mt_signals_own_process()) {
        /* (a vfork child lowering its own limit shares the parent's tables) */
        int saved = errno;
        mt_guard++;
        mt_stacks_fit_limit((uint64_t)limit->rlim_cur);
        mt_inblock_limit((uint64_t)limit->rlim_cur);
        mt_leave();
        errno = saved;
    }
    return rc;
}

MT_EXPORT int setrlimit(__rlimit_resource_t resource, const struct rlimit *limit) {
    return limit_set(0, (int)resource, limit, NULL);
}

MT_EXPORT int setrlimit64(__rlimit_resource_t resource, const struct rlimit64 *limit) {
    return limit_set(0, (int)resource, (const struct rlimit *)(const void *)limit, NULL);
}

MT_EXPORT int prlimit(pid_t pid, __rlimit_resource_t resource, const struct rlimit *limit, struct rlimit *old) {
    return limit_set(pid, (int)resource, limit, old);
}

MT_EXPORT int prlimit64(pid_t pid, __rlimit_resource_t resource, const struct rlimit64 *limit, struct rlimit64 *old) {
    return limit_set(pid, (int)resource, (const struct rlimit *)(const void *)limit, (struct rlimit *)(void *)old);
}

/* ---- fork ------------------------------------------------------------------------
 * Another thread may hold a table lock at the moment of fork; the child would
 * inherit it locked forever.  So fork waits for the tables to be quiet, and
 * does so before libc's fork runs anyone's handlers: jemalloc's takes every
 * lock of jemalloc, while the helper may be writing a snapshot, which asks
 * jemalloc for block sizes and statistics (the program hung for good), and
 * while it waits for the snapshot's lock, the calling thread answers the
 * helper's request for glibc's statistics (each fork had cost it the
 * request's 50 ms).  The child starts its helper once every handler has run,
 * jemalloc's too.  A fork that does not come here (libc's daemon() calls
 * libc's own) goes through the handlers alone, which mt_control_start
 * registers so that they run before jemalloc's in the parent. */
/* exit() from several threads (below): */
static volatile int exit_writer; /* the thread writing the exit snapshot; 0: none */
static volatile int exit_done;   /* the exit snapshot is written */
static volatile int exit_begun;  /* mt_at_exit has run, or is running */
static __thread int fork_prepared; /* the handlers' work is the fork wrapper's */
typedef pid_t (*fork_fn)(void);
static fork_fn real_fork;

static void before_fork(void) {
    if (!mt_enabled || fork_prepared) return;
    mt_guard++;
    mt_snapshot_lock();
    mt_timeline_lock();
    mt_stacks_lock_all();
    mt_live_lock_all();
    mt_cfi_lock();
    mt_signals_hold();
}

static void after_fork_parent(void) {
    if (!mt_enabled || fork_prepared) return;
    mt_cfi_unlock();
    mt_live_unlock_all();
    mt_stacks_unlock_all();
    mt_timeline_unlock();
    mt_snapshot_unlock();
    mt_leave();
    mt_signals_release();
}

static void after_fork_child(void) {
    if (!mt_enabled || fork_prepared) return;
    mt_cfi_unlock();
    mt_live_unlock_all();
    mt_stacks_unlock_all();
    mt_timeline_reset_locked();
    mt_timeline_unlock();
    mt_exec_holds = 0; /* an exec the handler interrupted in the parent: the child's lock is free */
    /* A thread of the parent that was exiting is not here; if it had taken
     * mt_at_exit, this child's exit handlers no longer hold it, and nothing
     * is to be waited for. */
    exit_writer = 0;
    exit_done = exit_begun;
    mt_snapshot_after_fork_child();
    mt_modules_after_fork_child();
    mt_sampler_after_fork_child();
    mt_solo_init(1);
    sem_init(&wakeup, 0, 0);
    signal_requests = 0;
    mt_guard--;
    mt_signals_after_fork_child(mt_config.follow_fork);
    if (!mt_config.follow_fork) {
        mt_enabled = 0;
        mt_inblock_stop();
        mt_signals_release();
        return;
    }
    mt_config.start_time_ns = mt_now_ns();
    /* Without %p in the pattern, the child's snapshots would replace the parent's.
     * Not where the pattern names a device or a pipe (MEMTRACE_OUTPUT=/dev/null),
     * which snapshots are written into rather than replace: the child's went to
     * /dev/null.PID, a file in /dev for root and a warning for anyone else. */
    struct stat target;
    int stream = !strchr(mt_config.output, '%') && stat(mt_config.output, &target) == 0 && !S_ISREG(target.st_mode) &&
                 !S_ISDIR(target.st_mode);
    if (!strstr(mt_config.output, "%p") && !stream) {
        size_t used = strlen(mt_config.output);
        strncat(mt_config.output, ".%p", sizeof mt_config.output - used - 1);
    }
    /* The parent's helper thread does not exist here. */
    helper_running = 0;
    mt_guard++;
    start_helper();
    mt_guard--;
    mt_signals_release();
}

MT_EXPORT pid_t fork(void) {
    if (!real_fork) real_fork = (fork_fn)dlsym(RTLD_NEXT, "fork");
    if (!real_fork) {
        errno = ENOSYS;
        return -1;
    }
    if (!mt_enabled || fork_prepared) return real_fork();
    before_fork();
    fork_prepared = 1;
    pid_t pid = real_fork();
    fork_prepared = 0;
    if (pid == 0) after_fork_child();
    else after_fork_parent();
    return pid;
}

/* ---- exec ------------------------------------------------------------------------
 * exec ends the process's other threads wherever they stand: a snapshot the
 * helper (or another thread, through memtrace.h) was writing stayed behind as
 * NAME.tmp.PID, unfinished.  So exec waits for a snapshot under way to end and
 * keeps the snapshot lock until the new image replaces this one; an exec that
 * fails gives it back.  A child made by vfork shares its parent's memory, this
 * lock included, and its exec ends none of the parent's threads: there exec
 * goes straight through.  glibc's exec functions call each other's internal
 * names, so each public one has a wrapper. */
typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*execv_fn)(const char *, char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);
typedef int (*execveat_fn)(int, const char *, char *const[], char *const[], int);
enum { EXEC_VE, EXEC_V, EXEC_VP, EXEC_VPE, EXEC_FVE, EXEC_VEAT, EXEC_CALLS };
static const char *const exec_names[EXEC_CALLS] = {"execve", "execv", "execvp", "execvpe", "fexecve", "execveat"};
static void *real_exec[EXEC_CALLS];
/* This thread holds the snapshot lock for an exec under way.  A signal
 * handler that interrupts the exec (execvp's search of PATH takes a while)
 * and snapshots, forks or execs takes the lock again, which counts
 * (snapshot.c); one that ends the program gives the exec's hold up for good
 * (mt_exec_abandon), for the helper to write the last snapshot. */
__thread int mt_exec_holds __attribute__((tls_model("initial-exec")));

static void exec_look_up(void) {
    for (int i = 0; i < EXEC_CALLS; i++)
        if (!real_exec[i]) real_exec[i] = dlsym(RTLD_NEXT, exec_names[i]);
}

/* The real function, or NULL with errno ENOSYS; *held: bit 0, the lock is
 * taken; bits 1-2, how the snapshot signal is ignored again for the new
 * program (mt_signals_before_exec's value). */
static void *exec_begin(int which, int *held) {
    if (!real_exec[which]) exec_look_up(); /* before the tracer's start: a constructor's exec */
    *held = 0;
    if (!real_exec[which]) {
        errno = ENOSYS;
        return NULL;
    }
    if (mt_enabled && mt_guard == 0 && !mt_exec_holds && mt_signals_own_process()) {
        mt_snapshot_lock();
        mt_exec_holds = 1;
        *held = 1;
    }
    *held |= mt_signals_before_exec() << 1;
    return real_exec[which];
}

static int exec_failed(int held) {
    int saved = errno;
    mt_signals_after_failed_exec(held >> 1);
    if (held & 1) mt_exec_abandon();
    errno = saved;
    return -1;
}

void mt_exec_abandon(void) {
    if (!mt_exec_holds) return;
    int saved = errno;
    mt_exec_holds = 0;
    mt_snapshot_unlock();
    errno = saved;
}

MT_EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
    int held;
    execve_fn real = (execve_fn)exec_begin(EXEC_VE, &held);
    if (real) real(path, argv, envp);
    return exec_failed(held);
}

MT_EXPORT int execv(const char *path, char *const argv[]) {
    int held;
    execv_fn real = (execv_fn)exec_begin(EXEC_V, &held);
    if (real) real(path, argv);
    return exec_failed(held);
}

MT_EXPORT int execvp(const char *file, char *const argv[]) {
    int held;
    execv_fn real = (execv_fn)exec_begin(EXEC_VP, &held);
    if (real) real(file, argv);
    return exec_failed(held);
}

MT_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
    int held;
    execve_fn real = (execve_fn)exec_begin(EXEC_VPE, &held);
    if (real) real(file, argv, envp);
    return exec_failed(held);
}

MT_EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
    int held;
    fexecve_fn real = (fexecve_fn)exec_begin(EXEC_FVE, &held);
    if (real) real(fd, argv, envp);
    return exec_failed(held);
}

MT_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags) {
    int held;
    execveat_fn real = (execveat_fn)exec_begin(EXEC_VEAT, &held);
    if (real) real(dirfd, path, argv, envp, flags);
    return exec_failed(held);
}

/* posix_spawn and posix_spawnp: glibc's child execs without the wrappers above. */
typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
                        char *const[], char *const[]);
static spawn_fn real_spawn[2];

static int spawn(int search, pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
                 const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    if (!real_spawn[search]) real_spawn[search] = (spawn_fn)dlsym(RTLD_NEXT, search ? "posix_spawnp" : "posix_spawn");
    if (!real_spawn[search]) return ENOSYS;
    int put = mt_signals_before_spawn(attr);
    int rc = real_spawn[search](pid, path, actions, attr, argv, envp);
    mt_signals_after_spawn(put);
    return rc;
}

MT_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
                          const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    return spawn(0, pid, path, actions, attr, argv, envp);
}

MT_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
                           const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    return spawn(1, pid, file, actions, attr, argv, envp);
}

/* system() and popen(): glibc's own posix_spawn, not the one above.  The
 * signal is back once system() returns, or its thread is cancelled. */
typedef int (*system_fn)(const char *);
typedef FILE *(*popen_fn)(const char *, const char *);

static void after_spawn(void *put) { mt_signals_after_spawn((int)(intptr_t)put); }

MT_EXPORT int system(const char *command) {
    static system_fn real;
    if (!real) real = (system_fn)dlsym(RTLD_NEXT, "system");
    if (!real) return -1;
    int put = command ? mt_signals_before_spawn(NULL) : 0;
    int rc;
    pthread_cleanup_push(after_spawn, (void *)(intptr_t)put);
    rc = real(command);
    pthread_cleanup_pop(1);
    return rc;
}

MT_EXPORT FILE *popen(const char *command, const char *type) {
    static popen_fn real;
    if (!real) real = (popen_fn)dlsym(RTLD_NEXT, "popen");
    if (!real) {
        errno = ENOSYS;
        return NULL;
    }
    int put = mt_signals_before_spawn(NULL);
    FILE *f = real(command, type);
    int saved = errno;
    mt_signals_after_spawn(put);
    errno = saved;
    return f;
}

/* execl, execle and execlp: their arguments gathered into an array on the
 * stack, as glibc's own do, then the wrappers above. */
static int count_args(const char *arg, va_list ap) { /* with the NULL that ends them */
    int n = 1;
    for (; arg; n++) arg = va_arg(ap, const char *);
    return n;
}

static void gather_args(char **argv, int n, const char *arg, va_list *ap) {
    argv[0] = (char *)arg;
    for (int i = 1; i < n; i++) argv[i] = va_arg(*ap, char *);
}

/* Declares `argv` on the stack and fills it from the arguments after `arg`
 * (their NULL included), leaving `ap` open after them (execle's envp). */
#define GATHER_ARGS(arg, argv, ap)          \
    va_list ap;                             \
    va_start(ap, arg);                      \
    int argc_ = count_args(arg, ap);        \
    va_end(ap);                             \
    char *argv[argc_];                      \
    va_start(ap, arg);                      \
    gather_args(argv, argc_, arg, &ap)

MT_EXPORT int execl(const char *path, const char *arg, ...) {
    GATHER_ARGS(arg, argv, ap);
    va_end(ap);
    return execve(path, argv, environ);
}

MT_EXPORT int execle(const char *path, const char *arg, ...) {
    GATHER_ARGS(arg, argv, ap);
    char **envp = va_arg(ap, char **);
    va_end(ap);
    return execve(path, argv, envp);
}

MT_EXPORT int execlp(const char *file, const char *arg, ...) {
    GATHER_ARGS(arg, argv, ap);
    va_end(ap);
    return execvp(file, argv);
}

/* ---- start and exit ------------------------------------------------------------- */
volatile int mt_exiting; /* the exit snapshot is coming: no more periodic ones */
extern int __cxa_atexit(void (*fn)(void *), void *arg, void *dso);
static void mt_at_exit(void *unused);
static void mt_after_exit_snapshot(void *unused);
static void exit_look_up(void);

void mt_control_init(void) {
    load_config();
    if (env_flag_or("MEMTRACE_DISABLE", 0, 1)) return; /* MEMTRACE_DISABLE=2 means it too */
    if (mt_stacks_init() != 0) {
        mt_warn("cannot reserve memory for the stack table; not tracing", NULL, errno);
        return;
    }
    mt_unwind_init();
    mt_tstats_init();
    uint64_t sample = parse_bytes("MEMTRACE_SAMPLE", 0, "recording every allocation");
    mt_sampler_init(sample, parse_seed("MEMTRACE_SAMPLE_SEED", 1));
    if (!mt_config.follow_exec) drop_preload();
    sem_init(&wakeup, 0, 0);
    install_signal();
    mt_signals_init(helper_wanted());
    mt_enabled = 1;
}

/* A program with an allocator of its own in the executable (rustc links
 * jemalloc and exports its malloc): the loader binds every call to malloc in
 * the process, libc's own included, to the executable's, which comes before
 * any preloaded library, so none reaches the hooks.  Said once here, and in
 * the snapshots (PROCESS own_malloc), rather than left to look like a
 * program that never allocates. */
static void find_own_malloc(void) {
    void *global = dlsym(RTLD_DEFAULT, "malloc");
    if (!global || mt_is_self_address((uint64_t)(uintptr_t)global)) return;
    /* Not an executable that only takes malloc's address (python3): its
     * "malloc" is then a stub of its own that calls the first definition,
     * the tracer's; an undefined symbol with a value. */
    Dl_info info;
    const ElfW(Sym) *symbol = NULL;
    if (!dladdr1(global, &info, (void **)&symbol, RTLD_DL_SYMENT) || !symbol || symbol->st_shndx == SHN_UNDEF) return;
    const char *where = info.dli_fname && info.dli_fname[0] ? info.dli_fname : mt_config.exe;
    snprintf(mt_config.own_malloc, sizeof mt_config.own_malloc, "%s", where);
    mt_hooks_follow_first_malloc();
    /* A library preloaded before the tracer (LD_PRELOAD="libmimalloc.so.2
     * libtrace.so"), not an executable: the order is the user's to change. */
    int library = strcmp(where, mt_config.exe) != 0 && strstr(where, ".so") != NULL;
    char line[4300];
    snprintf(line, sizeof line,
             "memtrace: %s has an allocator of its own: its malloc comes before the tracer's, "
             "so no allocation is traced%s\n",
             mt_config.own_malloc, library ? " (preload libtrace.so before it)" : "");
    mt_say(line);
}

/* From the library's constructor, once libc is fully up: the first allocation
 * (and so mt_control_init) can happen much earlier, inside libc's own start-up,
 * where creating a thread is not safe. */
void mt_control_start(void) {
    static int looked_up; /* what the helper must not look up itself */
    if (mt_enabled && !looked_up) {
        looked_up = 1;
        /* Here rather than at the first allocation, which made the
         * allocator start (and jemalloc register its own fork handlers)
         * after: prepare handlers run last registered first, so jemalloc's
         * would lock jemalloc before these waited for a snapshot that asks
         * jemalloc for sizes (libc's daemon() and others that fork without
         * the tracer's fork()); and the child's run first registered first,
         * so jemalloc's has made it usable again before the helper starts. */
        pthread_atfork(before_fork, after_fork_parent, after_fork_child);
        real_fork = (fork_fn)dlsym(RTLD_NEXT, "fork");
        exec_look_up(); /* not in a vfork child, whose dlsym would allocate in its parent's heap */
        exit_look_up();
        find_own_malloc();
        mt_allocator_init();
        mt_leaks_init();
        find_single_flag();
        struct mt_buf modules = {0}; /* for snapshots the program's thread cannot answer in time */
        mt_modules_keep(&modules, mt_modules_collect(&modules));
        mt_modules_find_loader_lock();
        mt_buf_free(&modules);
        mt_inblock_init();
        mt_solo_init(0);
        __cxa_atexit(mt_after_exit_snapshot, NULL, NULL); /* run after mt_at_exit */
        __cxa_atexit(mt_at_exit, NULL, NULL);
    }
    if (mt_enabled && !helper_running) start_helper();
}

/* An exit handler, registered by the tracer's constructor for no library
 * (atexit() would tie it to libtrace.so, and the loader's finaliser would
 * run it with libtrace.so's destructors, before those of the libraries
 * finalised after it).  exit() runs the handlers last registered first,
 * and libc registers the loader's finaliser once every library's
 * constructor has run: so this runs after the program's atexit handlers and
 * every destructor, the executable's and every library's, once the whole
 * program has cleaned up (gnutls frees at exit what it allocated as it
 * loaded: at the tracer's destructor, 700 blocks were still live).  Only
 * libc's stdio clean-up comes after. */
/* ---- exit from several threads ----------------------------------------------
 * exit() runs the handlers one at a time from a shared list, and a second
 * thread's exit() takes the next ones while the first thread is still in its
 * own: the one that found the list empty ended the process while the other
 * wrote the exit snapshot (it died half written), or before it began.  So a
 * handler registered just before mt_at_exit, and so run just after it, waits
 * for the exit snapshot to be written: whichever thread takes it, mt_at_exit
 * was taken before and is running or has run, and no thread finds the list
 * empty before one has taken it.  A third thread, arriving in exit() while
 * the snapshot is written, waits here (as newer glibc makes every later exit
 * wait), or in the handler, which puts itself back (for how long:
 * wait_for_exit_snapshot).  A thread that is not writing the snapshot is
 * never made to wait for one to begin (an exit handler that joins a thread
 * which calls exit() would wait for nothing).  quick_exit() waits the same
 * way. */
typedef void (*exit_fn)(int);
static exit_fn real_exit_fn;
static const int exit_wait_ms = 60000;

static void exit_look_up(void) {
    if (!real_exit_fn) real_exit_fn = (exit_fn)dlsym(RTLD_NEXT, "exit");
}

/* A minute; past that, up to three while the writer's thread is still there
 * (a large leak scan).  Then no one waits again: the snapshot will not come
 * (its thread was cancelled in it, or is stuck). */
static void wait_for_exit_snapshot(void) {
    const struct timespec tick = {0, 1000000};
    for (int ms = 0; !__atomic_load_n(&exit_done, __ATOMIC_ACQUIRE); ms++) {
        if (ms >= exit_wait_ms) {
            int writer = __atomic_load_n(&exit_writer, __ATOMIC_ACQUIRE);
            int alive = writer && syscall(SYS_tgkill, getpid(), writer, 0) == 0;
            if (!alive || ms >= 3 * exit_wait_ms) {
                __atomic_store_n(&exit_done, 1, __ATOMIC_RELEASE);
                return;
            }
        }
        mt_sleep(&tick);
    }
}

/* Waits while another thread writes the exit snapshot. */
static void wait_if_written(void) {
    int writer = __atomic_load_n(&exit_writer, __ATOMIC_ACQUIRE);
    if (mt_enabled && writer && writer != (int)syscall(SYS_gettid) && mt_signals_own_process()) /* not a vfork child */
        wait_for_exit_snapshot();
}

MT_EXPORT __attribute__((noreturn)) void exit(int status) {
    exit_look_up();
    wait_if_written();
    if (real_exit_fn) real_exit_fn(status);
    for (;;) syscall(SYS_exit_group, status);
}

MT_EXPORT __attribute__((noreturn)) void quick_exit(int status) {
    static exit_fn real_quick_exit;
    if (!real_quick_exit) real_quick_exit = (exit_fn)dlsym(RTLD_NEXT, "quick_exit");
    wait_if_written();
    if (real_quick_exit) real_quick_exit(status);
    for (;;) syscall(SYS_exit_group, status);
}

static void mt_after_exit_snapshot(void *unused) {
    (void)unused;
    if (!mt_signals_own_process() || __atomic_load_n(&exit_done, __ATOMIC_ACQUIRE)) return;
    /* Again, for a third thread's exit() that passed the check above before
     * the snapshot began: it finds this one, not an empty list. */
    mt_guard++;
    __cxa_atexit(mt_after_exit_snapshot, NULL, NULL);
    mt_guard--;
    wait_for_exit_snapshot();
}

/* libstdc++'s emergency pool for exceptions thrown when malloc fails: 71 KiB
 * allocated at start-up and kept for good, the largest block live at the exit
 * of every C++ program, and none of its own.  Released before the exit
 * snapshot by libstdc++'s own function for it, as valgrind and heaptrack do
 * (after every destructor; the pool only serves when malloc fails).  Looked up
 * now, as a library loaded late may have brought libstdc++. */
static void free_cxx_pool(void) {
    mt_guard++; /* the error message of a lookup that fails is the tracer's */
    void (*freeres)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "_ZN9__gnu_cxx9__freeresEv");
    mt_leave();
    if (freeres) freeres();
}

static void mt_at_exit(void *unused) {
    (void)unused;
    /* A vfork child's exit() (where _exit was due) runs its parent's exit
     * handlers, which the parent then never runs: the exit snapshot of the
     * heap they share is written here, under the child's pid, and no flag of
     * the parent's is touched. */
    if (!mt_signals_own_process()) {
        if (mt_enabled && (mt_config.at_exit || mt_config.leaks)) mt_snapshot(NULL, MT_TRIGGER_EXIT);
        return;
    }
    __atomic_store_n(&exit_begun, 1, __ATOMIC_RELEASE);
    if (!mt_enabled) {
        __atomic_store_n(&exit_done, 1, __ATOMIC_RELEASE);
        return;
    }
    __atomic_store_n(&exit_writer, (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
    mt_exiting = 1; /* a libc whose exit() calls _exit through its PLT: one exit snapshot */
    mt_signals_settle(); /* a signal that ends the program came first: it ends it */
    free_cxx_pool();
    if (mt_config.leaks) {
        /* The program is done: its registers are the exit path's. */
        mt_leaks_set_caller_frame(__builtin_frame_address(0));
        mt_snapshot_with_leaks(NULL, MT_TRIGGER_EXIT);
    } else if (mt_config.at_exit) {
        mt_snapshot(NULL, MT_TRIGGER_EXIT);
    }
    if (mt_config.overrun_report) { /* after the snapshot, whose flush reads the live records */
        mt_overrun_report();
        mt_mismatch_report();
    }
    __atomic_store_n(&exit_done, 1, __ATOMIC_RELEASE);
}
