import Analysis
import ArgumentParser
import SnapshotReader

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

extension Memtrace {
    /// `memtrace snapshot PID`: asks a running, traced process for a snapshot.
    struct SnapshotCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "snapshot",
            abstract: "Ask a traced process for a snapshot now and print the file it wrote.",
            discussion: """
                Sends the tracer's snapshot signal (SIGUSR2, or the process's MEMTRACE_SIGNAL) to PID, then waits \
                for the new snapshot file to appear and prints its path. The file name comes from the process's \
                MEMTRACE_OUTPUT (default memtrace.%e.%p.%n.snap), relative to its working directory. Where the \
                program has a disposition of its own for that signal (a handler, SIG_IGN or SIG_DFL), the tracer \
                answers a spare real-time signal instead, and that is the one sent.

                Examples:
                  memtrace snapshot 4242
                  memtrace top "$(memtrace snapshot 4242)"
                """)

        @Argument(help: "The traced process.")
        var pid: Int32

        @Option(
            parsing: .unconditional,
            help: ArgumentHelp("How long to wait for the tracer's thread and the file.", valueName: "SECONDS"))
        var timeout: Double = 5

        func validate() throws {
            if !(timeout > 0 && timeout <= 1e9) {
                throw ValidationError("--timeout must be a positive number of seconds.")
            }
        }

        func run() throws {
            printOut(try SnapshotRequest(pid: pid, timeout: timeout).take() + "\n")
        }

        /// The signal that reaches the tracer's handler in `pid`, `configured` (MEMTRACE_SIGNAL's) or another.
        /// The tracer's helper thread, which writes the snapshot, says which by its name: `memtrace` for
        /// the configured one; `memtrace-sigN` for signal N where the program has a disposition of its own
        /// for the configured one (nginx upgrades its binary on SIGUSR2, clang's handler ends the process,
        /// SIG_DFL ends it too) and the tracer moved to a spare real-time signal; `memtrace-nosig` for none.
        /// No such thread: nothing would answer (a forked child the tracer does not follow, whose
        /// dispositions are the program's again), unless it is stepping aside for a moment (`unshare`),
        /// hence the wait.
        static func signalReachingTracer(pid: Int32, configured: Int32, deadline: UInt64) throws -> Int32 {
            while true {
                let names = Set(
                    directoryNames("/proc/\(pid)/task").compactMap { task in
                        readWhole("/proc/\(pid)/task/\(task)/comm")?.split(separator: "\n").first.map(String.init)
                    })
                if names.contains("memtrace") { return configured }  // see isTracerThread
                for name in names where name.hasPrefix("memtrace-sig") {
                    if let signo = Int32(name.dropFirst("memtrace-sig".count)) { return signo }
                }
                if names.contains("memtrace-nosig") {
                    throw CLIError(
                        "process \(pid) has taken \(signalLabel(configured)) over (a handler of its own, SIG_IGN or "
                            + "SIG_DFL), and SIGRTMIN+6 to +9 too: trace it with MEMTRACE_SIGNAL set to a signal it "
                            + "leaves alone, or, if it takes every signal (as Go's runtime does), with memtrace run "
                            + "--interval", status: 1)
                }
                if realtimeNanoseconds() >= deadline {
                    throw CLIError(
                        "process \(pid) runs no memtrace thread to answer \(signalLabel(configured)) (a forked child "
                            + "with MEMTRACE_FOLLOW_FORK=0 is not traced)", status: 1)
                }
                usleep(20_000)
            }
        }

        /// Throws when every thread of the program blocks `signo`: it would stay pending, or go to a
        /// `signalfd` or `sigwait` of the program's (the tracer moves off a signal the program reads
        /// that way, but not off one it only blocks).
        static func checkNotBlockedEverywhere(pid: Int32, signo: Int32) throws {
            var threads = 0
            for task in directoryNames("/proc/\(pid)/task") {
                guard let status = readWhole("/proc/\(pid)/task/\(task)/status") else { continue }
                var fields: [Substring: Substring] = [:]
                for line in status.split(separator: "\n") {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    fields[line[..<colon]] = line[line.index(after: colon)...].drop { $0 == "\t" || $0 == " " }
                }
                if let name = fields["Name"], isTracerThread(String(name)) { continue }
                guard let blocked = fields["SigBlk"], let mask = UInt64(blocked, radix: 16) else { continue }
                if mask & (1 << UInt64(signo - 1)) == 0 { return }
                threads += 1
            }
            guard threads > 0 else { return }
            throw CLIError(
                "process \(pid) blocks \(signalLabel(signo)) in every thread, so the signal would wait there or go to "
                    + "a signalfd or sigwait of the program's: trace it with MEMTRACE_SIGNAL set to a signal it "
                    + "leaves unblocked", status: 1)
        }

        /// Whether a thread's name is one the tracer's helper takes.
        static func isTracerThread(_ name: String) -> Bool {
            name == "memtrace" || name == "memtrace-nosig" || name.hasPrefix("memtrace-sig")
        }

        /// "SIGUSR2", "SIGRTMIN+6" or "signal 40".
        static func signalLabel(_ signo: Int32) -> String {
            let names: [Int32: String] = [
                SIGUSR1: "SIGUSR1", SIGUSR2: "SIGUSR2", SIGPROF: "SIGPROF", SIGURG: "SIGURG", SIGWINCH: "SIGWINCH",
                SIGHUP: "SIGHUP", SIGPWR: "SIGPWR",
            ]
            if let name = names[signo] { return name }
            let low = __libc_current_sigrtmin()
            if signo >= low && signo <= __libc_current_sigrtmax() { return "SIGRTMIN+\(signo - low)" }
            return "signal \(signo)"
        }

        /// Parses MEMTRACE_SIGNAL as the tracer does; `nil` when snapshots on signal are off.
        static func signalNumber(_ text: String) -> Int32? {
            // As the tracer reads MEMTRACE_SIGNAL (control.c parse_signal): what it cannot use is USR2.
            if text.isEmpty { return SIGUSR2 }
            if ["0", "off", "none"].contains(text.lowercased()) { return nil }
            let rtmin = __libc_current_sigrtmin()
            let rtmax = __libc_current_sigrtmax()
            var signal: Int32?
            let digits = { (text: Substring) in !text.isEmpty && text.allSatisfy { ("0"..."9").contains($0) } }
            if digits(Substring(text)), let number = Int32(text) {
                signal = number > 0 && number < 65 ? number : nil
            } else {
                var name = text.uppercased()
                if name.hasPrefix("SIG") { name.removeFirst(3) }
                let names: [String: Int32] = [
                    "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "USR1": SIGUSR1, "USR2": SIGUSR2, "PIPE": SIGPIPE,
                    "ALRM": SIGALRM, "TERM": SIGTERM, "CHLD": SIGCHLD, "CONT": SIGCONT, "TSTP": SIGTSTP,
                    "TTIN": SIGTTIN, "TTOU": SIGTTOU, "URG": SIGURG, "XCPU": SIGXCPU, "XFSZ": SIGXFSZ,
                    "VTALRM": SIGVTALRM, "PROF": SIGPROF, "WINCH": SIGWINCH, "IO": SIGIO, "PWR": SIGPWR,
                    "POLL": SIGPOLL, "CLD": SIGCHLD, "STKFLT": SIGSTKFLT, "RTMIN": rtmin, "RTMAX": rtmax,
                ]
                signal = names[name]
                if name.hasPrefix("RTMIN+") || name.hasPrefix("RTMAX-"), digits(name.dropFirst(6)),
                    let offset = Int32(name.dropFirst(6)), offset <= rtmax - rtmin
                {
                    let number = name.hasPrefix("RTMIN+") ? rtmin + offset : rtmax - offset
                    signal = (rtmin...rtmax).contains(number) ? number : nil
                }
            }
            guard let signal else { return SIGUSR2 }
            let unusable: Set<Int32> = [SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT]
            return unusable.contains(signal) || (signal > SIGSYS && signal < rtmin) ? SIGUSR2 : signal
        }
    }
}
