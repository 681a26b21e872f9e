/*
 * A program ended by a signal whose default action ends it -- SIGHUP, SIGINT,
 * SIGPIPE, SIGTERM, SIGALRM, SIGUSR1, SIGUSR2, SIGVTALRM or SIGPROF -- still
 * leaves a snapshot: killed, interrupted at the terminal, writing into a pipe
 * whose reader is gone (`traced | head`), or stopped by an alarm() it set as
 * a time limit.  So does one that calls abort() (SIGABRT): an assertion that
 * failed, and above all a program out of memory, C++'s uncaught bad_alloc
 * and Rust's failed allocation, where the heap at that moment is what a
 * memory profile is for.  Not the other signals whose default action also
 * dumps core (SIGQUIT, SIGXCPU, ...: a core is asked for there, and the
 * crashes among them leave a heap in no state to walk), nor the snapshot
 * signal itself.  SIGABRT's core must be the aborting thread's, as untraced:
 * that thread, not the helper, ends the process once the snapshot is written.
 *
 * Those signals' default action ends the process on the spot, and the exit
 * snapshot with it.  So where the program leaves one of them at its default
 * action, the tracer installs a handler instead.  The handler wakes the helper
 * thread (control.c), which writes a termination snapshot and then ends the
 * process with the same signal, default action restored: whoever waits for it
 * sees the status the signal would have given.
 *
 * Meanwhile the thread the signal landed on waits in the handler, as it would
 * be gone untraced: it does not go on to exec, change the disposition or
 * exit.  It could hold a lock the writer needs, so the writer takes none it
 * can avoid: the snapshot has no allocator statistics (mallinfo2 and mallctl
 * lock the allocator), and the module list, read through dl_iterate_phdr
 * (the loader's lock, held by a thread inside dlopen or dl_iterate_phdr), is
 * waited for two seconds at most, after which the thread ends the process
 * itself, without a snapshot.  When the signal lands while the thread is
 * inside the tracer (which holds its own locks then), the handler returns at
 * once and the thread stops as it leaves the tracer (mt_leave).  Any other
 * thread such a signal reaches meanwhile waits too; the rest run on until the
 * snapshot is written, except that changing that signal's disposition or
 * exiting waits for the end.
 *
 * The handler must not change what the program sees.  Programs look at a
 * signal's disposition before choosing theirs (python3 installs its SIGINT
 * handler, the one that raises KeyboardInterrupt, only over SIG_DFL; sort and
 * bash keep SIG_IGN when they find it), so sigaction(), signal() and their
 * relatives are interposed: while the tracer's handler stands in for the
 * default action they report SIG_DFL, a program that sets SIG_DFL keeps it,
 * and any other disposition replaces it (until the program sets SIG_DFL
 * again).  The snapshot signal's handler (control.c) is hidden the same way:
 * the program is told of the disposition it had at the start (SIG_DFL or
 * SIG_IGN), and any disposition it sets replaces the handler; otherwise
 * `trap - USR2` in bash, which puts back what it found at its start, kept
 * the handler, and a SIGUSR2 meant to end the shell took a snapshot.  What
 * the tracer cannot hide is a disposition read with the raw rt_sigaction
 * system call.  A program can also take a signal without a disposition: it
 * blocks it and reads it with signalfd or sigwait (systemd does).  Those are
 * interposed too, and a set that holds the snapshot signal takes it over.
 *
 * _exit() and _Exit() end the process the same way as far as the tracer can
 * tell: no atexit handler or destructor runs, its own exit snapshot included,
 * and they may be called from a signal handler that interrupted anything.  So
 * they are interposed and take the same road: the helper writes the snapshot
 * (trigger exit, PROCESS "exit" = "_exit") while the calling thread waits,
 * then ends the process with the status given.  Not with the leak scan on
 * (memtrace check judges what a program leaves at exit, after its cleanup),
 * nor from inside the tracer or from a vfork child.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "tracer.h"

/* glibc's implementation, exported under this name too: the tracer's own
 * changes go straight to it, never through the interposed sigaction. */
extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);

static const int watched[] = {SIGHUP, SIGINT, SIGPIPE, SIGTERM, SIGALRM, SIGUSR1, SIGUSR2, SIGVTALRM, SIGPROF,
                              SIGABRT};

/* The signals whose default action dumps core: the thread the signal landed
 * on ends the process, so that the core shows its stack. */
static int dumps_core(int sig) { return sig == SIGABRT; }
static volatile sig_atomic_t written; /* the termination snapshot is written: see mt_signals_end */

static int active; /* the tracer stands in for these signals' default action */
/* standing_in[sig]: the tracer's handler is installed in place of SIG_DFL. */
static volatile sig_atomic_t standing_in[NSIG];
/* The snapshot signal's handler (control.c) is installed in place of this. */
static struct sigaction snapshot_before;
static volatile sig_atomic_t snapshot_standing;
volatile int mt_signal_ending; /* the signal being handled, MT_ENDING_EXIT, or 0 */
static volatile int exit_status; /* for MT_ENDING_EXIT */
static int exit_active;          /* _exit leaves a snapshot */
typedef void (*exit_fn)(int);
static exit_fn real_exit;

/* The process the state here describes.  A child made by vfork() shares
 * this memory until it execs, but not its parent's dispositions: there the
 * tracer keeps its hands off (and a signal takes its default action). */
static pid_t owner;

int mt_signals_own_process(void) { return owner != 0 && getpid() == owner; }

static int may_stand_in(int sig) {
    if (!active || sig == mt_config.signal) return 0; /* MEMTRACE_SIGNAL=HUP: that one asks for snapshots */
    for (size_t i = 0; i < sizeof watched / sizeof watched[0]; i++)
        if (watched[i] == sig) return getpid() == owner;
    return 0;
}

/* SIG_DFL as the kernel reports it: no flags, no mask. */
static void default_action(struct sigaction *sa) {
    memset(sa, 0, sizeof *sa);
    sa->sa_handler = SIG_DFL;
    sigemptyset(&sa->sa_mask);
}

/* `sig` back to its default action, in this process only. */
static void restore_default(int sig) {
    struct sigaction dfl;
    default_action(&dfl);
    __sigaction(sig, &dfl, NULL);
}

static void set_default(int sig) {
    standing_in[sig] = 0;
    restore_default(sig);
}

/* The default action now, for this thread too.  Async-signal-safe. */
static void raise_default(int sig) {
    restore_default(sig);
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, sig);
    pthread_sigmask(SIG_UNBLOCK, &only, NULL);
    raise(sig);
}

static __attribute__((noreturn)) void end_with_status(int status) {
    if (real_exit) real_exit(status);
    for (;;) syscall(SYS_exit_group, status);
}

/* Ends the process by `sig` with its default action, or for MT_ENDING_EXIT
 * with _exit's status.  Async-signal-safe. */
void mt_signals_die(int sig) {
    if (sig == MT_ENDING_EXIT) end_with_status(exit_status);
    standing_in[sig] = 0;
    raise_default(sig);
    /* Still here: the kernel ignored it (an unkillable process).  Ended as
     * a shell reports such a death, rather than a snapshot after snapshot. */
    end_with_status(128 + sig);
}

static volatile sig_atomic_t modules_read; /* the writer is past the loader's lock */

void mt_signals_modules_read(void) { modules_read = 1; }

/* Until the helper ends the process, or says the snapshot is written (a
 * signal that dumps core); or, if the writer is stuck at the loader's lock
 * or slower than a minute, ends it here.  Async-signal-safe. */
static void wait_for_end(int sig) {
    mt_exec_abandon(); /* a handler that interrupted this thread's exec: the helper needs the lock */
    const struct timespec tick = {0, 1000000};
    for (int ms = 0; ms < 60000 && (ms < 2000 || modules_read) && !written; ms++) mt_sleep(&tick);
    mt_signals_die(sig);
}

/* From the helper, once the termination snapshot is written. */
void mt_signals_end(int sig) {
    if (dumps_core(sig)) { /* never _exit's MT_ENDING_EXIT */
        written = 1;
        /* The waiting thread ends it within a tick; here only if it cannot. */
        const struct timespec tick = {0, 1000000};
        for (int ms = 0; ms < 2000; ms++) mt_sleep(&tick);
    }
    mt_signals_die(sig);
}

static void on_terminate(int sig) {
    int saved = errno;
    if (getpid() != owner) raise_default(sig); /* a vfork child: touching nothing shared */
    /* Inside the tracer, abort() would go on to end the process as soon as
     * this returned, the snapshot half written: no snapshot then. */
    if (dumps_core(sig) && mt_guard > 0) raise_default(sig);
    int first = 0;
    if (__atomic_compare_exchange_n(&mt_signal_ending, &first, sig, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST) &&
        (!mt_enabled || !mt_helper_wake()))
        mt_signals_die(sig); /* nobody to write it: end now */
    /* This thread, and any other such a signal reaches meanwhile, waits. */
    if (mt_guard == 0) wait_for_end(mt_signal_ending);
    errno = saved;
}

/* Out of line: it sits at the end of every hook that records. */
__attribute__((noinline, cold)) void mt_signals_settle(void) {
    int sig = mt_signal_ending;
    if (sig) wait_for_end(sig);
}

/* In place of SIG_DFL, which `sig` has now. */
static void stand_in(int sig) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_terminate;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    standing_in[sig] = 1;
    if (__sigaction(sig, &sa, NULL) != 0) standing_in[sig] = 0;
}

const char *mt_signal_name(int sig) {
    switch (sig) {
    case SIGHUP: return "SIGHUP";
    case SIGINT: return "SIGINT";
    case SIGPIPE: return "SIGPIPE";
    case SIGTERM: return "SIGTERM";
    case SIGALRM: return "SIGALRM";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    case SIGVTALRM: return "SIGVTALRM";
    case SIGPROF: return "SIGPROF";
    case SIGABRT: return "SIGABRT";
    default: return "";
    }
}

static void resolve_reals(void);

static int with_helper; /* what mt_signals_init was told */

/* Stands in for the default action of each watched signal that has it. */
static void stand_in_for_defaults(void) {
    for (size_t i = 0; i < sizeof watched / sizeof watched[0]; i++) {
        int sig = watched[i];
        struct sigaction current;
        if (!may_stand_in(sig) || __sigaction(sig, NULL, &current) != 0) continue;
        if (!(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_DFL) stand_in(sig);
    }
}

void mt_signals_init(int helper) {
    resolve_reals();
    owner = getpid();
    with_helper = helper;
    /* Not for a process that is PID 1 (a container's entrypoint): the kernel
     * ignores a signal whose action is the default one there, so a stand-in
     * would catch what the program never sees, and could not end it after.
     * Its forked children are not PID 1 (mt_signals_after_fork_child). */
    active = helper && (mt_config.at_exit || mt_config.leaks) && owner != 1;
    exit_active = helper && (mt_config.at_exit || mt_config.leaks);
    stand_in_for_defaults();
}

/* Across fork these signals wait, blocked: one that reached the child
 * before its state was reset and its helper started would be lost or wait
 * for a helper that is not there.  Forks are serialised by the tracer's
 * locks, taken before this, so one saved mask serves. */
static sigset_t fork_mask;
static int holding;

void mt_signals_hold(void) {
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof watched / sizeof watched[0]; i++) sigaddset(&set, watched[i]);
    holding = pthread_sigmask(SIG_BLOCK, &set, &fork_mask) == 0;
}

void mt_signals_release(void) {
    if (!holding) return;
    holding = 0;
    pthread_sigmask(SIG_SETMASK, &fork_mask, NULL);
}

/* A traced child starts with no termination under way; in one that is not
 * traced, the default action is the default action again. */
static void spawn_after_fork_child(int traced);

void mt_signals_after_fork_child(int traced) {
    spawn_after_fork_child(traced);
    int parent_was_init = owner == 1;
    owner = getpid();
    mt_signal_ending = 0;
    modules_read = 0;
    written = 0;
    /* A forked child that ends through _exit (a worker, an exec that
     * failed) is not judged for leaks: its other threads' registers stayed
     * in the parent, and the blocks only they pointed to would be lost. */
    if (mt_config.leaks) exit_active = 0;
    if (traced && parent_was_init && with_helper && (mt_config.at_exit || mt_config.leaks)) {
        active = 1; /* a default action ends this one: stand in for it as anywhere else */
        stand_in_for_defaults();
    }
    if (traced) return;
    for (size_t i = 0; i < sizeof watched / sizeof watched[0]; i++)
        if (standing_in[watched[i]]) set_default(watched[i]);
    if (snapshot_standing) { /* no snapshots here: what the program had */
        snapshot_standing = 0;
        __sigaction(mt_config.signal, &snapshot_before, NULL);
    }
    active = 0;
    exit_active = 0;
}

/* ---- exec ----------------------------------------------------------------
 * exec resets a handled signal to its default action but keeps an ignored one
 * ignored: a snapshot signal the program was started with ignored (nohup's
 * way, `trap '' USR2`) must reach the program it execs ignored, traced or
 * not, not as a default action that ends it. */
static struct sigaction tracer_handler; /* the snapshot handler as install_snapshot set it */

static int ignored_at_start(void) {
    return snapshot_standing && snapshot_before.sa_handler == SIG_IGN && !(snapshot_before.sa_flags & SA_SIGINFO);
}

/* posix_spawn's child, and system()'s and popen()'s (glibc's own
 * posix_spawn), run the new program without coming through the interposed
 * exec: the signal is ignored in the parent while any thread spawns or execs
 * (a snapshot request meanwhile is lost: for system(), while its command
 * runs), unless the spawn sets it to its default action anyway.  One count
 * for all, so that the last to finish puts the handler back. */
static pthread_mutex_t spawn_lock = PTHREAD_MUTEX_INITIALIZER;
static int spawning;

static int ignore_for_child(void) {
    pthread_mutex_lock(&spawn_lock);
    if (spawning++ == 0) __sigaction(mt_config.signal, &snapshot_before, NULL);
    pthread_mutex_unlock(&spawn_lock);
    return 1;
}

static void handler_back(void) {
    pthread_mutex_lock(&spawn_lock);
    if (spawning > 0 && --spawning == 0) __sigaction(mt_config.signal, &tracer_handler, NULL);
    pthread_mutex_unlock(&spawn_lock);
}

/* 1: counted; 2: a vfork child, whose signal table is its own (the memory
 * it shares with its parent, the count's too, is left alone). */
int mt_signals_before_exec(void) {
    if (!ignored_at_start()) return 0;
    if (!mt_signals_own_process()) return __sigaction(mt_config.signal, &snapshot_before, NULL) == 0 ? 2 : 0;
    return ignore_for_child();
}

void mt_signals_after_failed_exec(int put) {
    if (put == 2) __sigaction(mt_config.signal, &tracer_handler, NULL);
    else if (put) handler_back();
}

int mt_signals_before_spawn(const posix_spawnattr_t *attr) {
    if (!ignored_at_start() || !mt_signals_own_process()) return 0;
    short flags;
    sigset_t defaults;
    if (attr && posix_spawnattr_getflags(attr, &flags) == 0 && (flags & POSIX_SPAWN_SETSIGDEF) &&
        posix_spawnattr_getsigdefault(attr, &defaults) == 0 && sigismember(&defaults, mt_config.signal))
        return 0;
    return ignore_for_child();
}

void mt_signals_after_spawn(int put) {
    if (put) handler_back();
}

/* A fork while another thread spawned: that thread is not in the child. */
static void spawn_after_fork_child(int traced) {
    pthread_mutex_init(&spawn_lock, NULL);
    if (spawning && traced) __sigaction(mt_config.signal, &tracer_handler, NULL);
    spawning = 0;
}

/* ---- _exit ---------------------------------------------------------------- */
static __attribute__((noreturn)) void underscore_exit(int status) {
    if (exit_active && mt_enabled && !mt_exiting && mt_guard == 0 && getpid() == owner) {
        int none = 0;
        if (__atomic_compare_exchange_n(&mt_signal_ending, &none, MT_ENDING_EXIT, 0, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST)) {
            exit_status = status;
            if (mt_helper_wake()) wait_for_end(MT_ENDING_EXIT);
        } else {
            wait_for_end(mt_signal_ending); /* a signal is ending the program: it ends it */
        }
    }
    end_with_status(status);
}

MT_EXPORT void _exit(int status) { underscore_exit(status); }
MT_EXPORT void _Exit(int status) { underscore_exit(status); }

/* ---- the snapshot signal ------------------------------------------------------
 * Where the program has a disposition of its own for the configured signal,
 * from the start or from later on (nginx upgrades its binary on SIGUSR2,
 * clang's handler ends the process, SIG_DFL would end it), the handler moves
 * to a real-time signal the program leaves alone, the first of RTMIN+6 to
 * RTMIN+9 that is (glibc keeps two below RTMIN for itself; programs that use
 * real-time signals mostly take the first few).  mt_config.signal is the one
 * in use; the helper's name tells `memtrace snapshot` which (control.c). */
#define SPARE_FIRST 6
#define SPARES 4
static int configured_signal;

static int install_snapshot(int sig, void (*handler)(int)) {
    struct sigaction current;
    if (__sigaction(sig, NULL, &current) != 0) return 0;
    /* Never replace a handler the program (or its parent) chose. */
    if ((current.sa_flags & SA_SIGINFO) || (current.sa_handler != SIG_DFL && current.sa_handler != SIG_IGN)) return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (__sigaction(sig, &sa, NULL) != 0) return 0;
    snapshot_before = current;
    tracer_handler = sa;
    mt_config.signal = sig;
    owner = getpid();
    snapshot_standing = 1;
    return 1;
}

static void (*snapshot_handler)(int);

static void move_snapshot(int from) {
    for (int k = SPARE_FIRST; k < SPARE_FIRST + SPARES; k++) {
        int sig = SIGRTMIN + k;
        if (sig != from && sig <= SIGRTMAX && install_snapshot(sig, snapshot_handler)) return;
    }
}

void mt_signals_install_snapshot(int sig, void (*handler)(int)) {
    configured_signal = sig;
    snapshot_handler = handler;
    if (!install_snapshot(sig, handler)) move_snapshot(sig);
}

static int snapshot_hidden(int sig) { return snapshot_standing && sig == mt_config.signal && getpid() == owner; }

int mt_signals_snapshot_signal(void) { return snapshot_standing && getpid() == owner ? mt_config.signal : 0; }

int mt_signals_configured_signal(void) { return configured_signal; }

/* The program set a disposition of its own for the snapshot signal: the
 * handler moves, and the helper renames itself (control.c, name_helper). */
static void snapshot_taken_over(void) {
    snapshot_standing = 0;
    move_snapshot(mt_config.signal);
    mt_helper_wake(); /* sem_post: async-signal-safe, as sigaction is */
}

/* ---- the program's view --------------------------------------------------- */
static int standing_in_for(int sig) { return sig > 0 && sig < NSIG && standing_in[sig]; }

static int is_default(const struct sigaction *act) {
    return !(act->sa_flags & SA_SIGINFO) && act->sa_handler == SIG_DFL;
}

MT_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    if (MT_UNLIKELY(snapshot_hidden(sig))) {
        struct sigaction before = snapshot_before;
        if (act) {
            if (__sigaction(sig, act, NULL) != 0) return -1;
            snapshot_taken_over(); /* the program's disposition from now on */
            if (is_default(act) && may_stand_in(sig)) stand_in(sig); /* as for any SIG_DFL it sets */
        }
        if (old) *old = before;
        return 0;
    }
    if (sig <= 0 || sig >= NSIG || !may_stand_in(sig)) return __sigaction(sig, act, old);
    struct sigaction before;
    if (standing_in[sig]) {
        default_action(&before);
        if (act && !is_default(act)) { /* the program's own: from now on the disposition is the program's */
            if (mt_signal_ending == sig) wait_for_end(sig); /* too late: the signal came first */
            standing_in[sig] = 0;
            if (__sigaction(sig, act, NULL) != 0) {
                standing_in[sig] = 1;
                return -1;
            }
        }
    } else {
        if (__sigaction(sig, act, &before) != 0) return -1;
        if (act && is_default(act)) stand_in(sig);
    }
    if (old) *old = before;
    return 0;
}

typedef __sighandler_t (*signal_fn)(int, __sighandler_t);

/* signal() and its relatives differ in the flags they set, so each goes to
 * its own implementation; the tracer only answers for SIG_DFL.  They are
 * looked up at start-up (a program may call them inside a signal handler,
 * where dlsym is not safe), or on first use before it. */
enum { SIGNAL, BSD_SIGNAL, SYSV_SIGNAL, SYSV_SIGNAL_2, SIGSET, REALS };
static const char *const real_names[REALS] = {"signal", "bsd_signal", "sysv_signal", "__sysv_signal", "sigset"};
static signal_fn reals[REALS];

/* The ways to take a signal synchronously, looked up with the others. */
typedef int (*signalfd_fn)(int, const sigset_t *, int);
typedef int (*sigwait_fn)(const sigset_t *, int *);
typedef int (*sigwaitinfo_fn)(const sigset_t *, siginfo_t *);
typedef int (*sigtimedwait_fn)(const sigset_t *, siginfo_t *, const struct timespec *);
static signalfd_fn real_signalfd;
static sigwait_fn real_sigwait;
static sigwaitinfo_fn real_sigwaitinfo;
static sigtimedwait_fn real_sigtimedwait;

static void resolve_reals(void) {
    for (int i = 0; i < REALS; i++)
        if (!reals[i]) reals[i] = (signal_fn)dlsym(RTLD_NEXT, real_names[i]);
    if (!real_exit) real_exit = (exit_fn)dlsym(RTLD_NEXT, "_exit");
    if (!real_signalfd) real_signalfd = (signalfd_fn)dlsym(RTLD_NEXT, "signalfd");
    if (!real_sigwait) real_sigwait = (sigwait_fn)dlsym(RTLD_NEXT, "sigwait");
    if (!real_sigwaitinfo) real_sigwaitinfo = (sigwaitinfo_fn)dlsym(RTLD_NEXT, "sigwaitinfo");
    if (!real_sigtimedwait) real_sigtimedwait = (sigtimedwait_fn)dlsym(RTLD_NEXT, "sigtimedwait");
}

static __sighandler_t through(int which, int sig, __sighandler_t handler) {
    signal_fn real = reals[which];
    if (!real) real = reals[which] = (signal_fn)dlsym(RTLD_NEXT, real_names[which]);
    if (!real) {
        errno = ENOSYS;
        return SIG_ERR;
    }
    if (MT_UNLIKELY(snapshot_hidden(sig)) && handler != SIG_HOLD) {
        __sighandler_t before = snapshot_before.sa_handler;
        if (real(sig, handler) == SIG_ERR) return SIG_ERR;
        snapshot_taken_over();
        if (handler == SIG_DFL && may_stand_in(sig)) stand_in(sig);
        return before;
    }
    if (sig <= 0 || sig >= NSIG || !may_stand_in(sig) || handler == SIG_HOLD) return real(sig, handler);
    if (standing_in[sig]) {
        if (handler == SIG_DFL) return SIG_DFL;
        if (mt_signal_ending == sig) wait_for_end(sig); /* too late: the signal came first */
        standing_in[sig] = 0;
        if (real(sig, handler) == SIG_ERR) {
            standing_in[sig] = 1;
            return SIG_ERR;
        }
        return SIG_DFL;
    }
    __sighandler_t before = real(sig, handler);
    if (before != SIG_ERR && handler == SIG_DFL) stand_in(sig);
    return before;
}

MT_EXPORT __sighandler_t signal(int sig, __sighandler_t handler) { return through(SIGNAL, sig, handler); }
MT_EXPORT __sighandler_t bsd_signal(int sig, __sighandler_t handler) { return through(BSD_SIGNAL, sig, handler); }
MT_EXPORT __sighandler_t sysv_signal(int sig, __sighandler_t handler) { return through(SYSV_SIGNAL, sig, handler); }
MT_EXPORT __sighandler_t __sysv_signal(int sig, __sighandler_t handler) {
    return through(SYSV_SIGNAL_2, sig, handler);
}
MT_EXPORT __sighandler_t sigset(int sig, __sighandler_t handler) {
    __sighandler_t before = through(SIGSET, sig, handler);
    if (before != SIG_ERR && handler == SIG_DFL && standing_in_for(sig)) { /* sigset also unblocks */
        sigset_t only;
        sigemptyset(&only);
        sigaddset(&only, sig);
        pthread_sigmask(SIG_UNBLOCK, &only, NULL);
    }
    return before;
}

/* ---- the snapshot signal taken synchronously -------------------------------------
 * The program reads the signals of `set` from a signalfd or waits for them:
 * if the snapshot signal is one, it has taken the signal over, as with a
 * disposition of its own.  The handler it never runs is put back as it was,
 * and moves. */
static void taking(const sigset_t *set) {
    int sig = mt_config.signal;
    if (!set || !snapshot_standing || getpid() != owner || sigismember(set, sig) != 1) return;
    __sigaction(sig, &snapshot_before, NULL);
    snapshot_taken_over();
}

MT_EXPORT int signalfd(int fd, const sigset_t *mask, int flags) {
    if (!real_signalfd) resolve_reals();
    if (!real_signalfd) return (int)syscall(SYS_signalfd4, fd, mask, (size_t)(_NSIG / 8), flags);
    int rc = real_signalfd(fd, mask, flags);
    if (rc >= 0) taking(mask);
    return rc;
}

MT_EXPORT int sigwait(const sigset_t *set, int *sig) {
    taking(set);
    if (!real_sigwait) resolve_reals();
    return real_sigwait ? real_sigwait(set, sig) : ENOSYS;
}

MT_EXPORT int sigwaitinfo(const sigset_t *set, siginfo_t *info) {
    taking(set);
    if (!real_sigwaitinfo) resolve_reals();
    if (real_sigwaitinfo) return real_sigwaitinfo(set, info);
    errno = ENOSYS;
    return -1;
}

MT_EXPORT int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *timeout) {
    taking(set);
    if (!real_sigtimedwait) resolve_reals();
    if (real_sigtimedwait) return real_sigtimedwait(set, info, timeout);
    errno = ENOSYS;
    return -1;
}
