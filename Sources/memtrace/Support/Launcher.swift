#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The child being run, for the signal handler (a C function cannot capture it).
nonisolated(unsafe) private var forwardTo: pid_t = 0

/// Starts a program with its standard streams inherited and waits for it,
/// forwarding SIGINT and SIGTERM that other processes send to memtrace; a signal
/// that memtrace was started ignoring (`trap '' INT`, `nohup`, a background job
/// of a non-interactive shell) stays ignored, for memtrace and for the program.
///
/// A Ctrl-C typed at the terminal already reaches the whole foreground process
/// group, child included, so signals the kernel generated for the terminal
/// (`si_code` not `SI_USER`/`SI_QUEUE`) are not forwarded a second time;
/// memtrace itself survives them and reports once the child has ended.
enum Launcher {
    /// Runs `arguments[0]` (searched in `PATH`) with `arguments` and `environment`.
    ///
    /// - Returns: the child's pid (through `started`, before waiting) and how it ended.
    /// - Throws: ``CLIError`` (status 127) when the program cannot be started.
    static func run(
        _ arguments: [String], environment: [String: String], started: (pid_t) -> Void = { _ in }
    ) throws
        -> Ending
    {
        let argv = RawArguments.program(arguments) + [nil]
        let envp = RawArguments.environment(environment) + [nil]
        defer { for copy in argv + envp { free(copy) } }
        installForwarding()
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, arguments[0], nil, nil, argv, envp)
        guard rc == 0 else {
            throw CLIError("cannot run \(arguments[0]): \(String(cString: strerror(rc)))", status: 127)
        }
        forwardTo = pid
        started(pid)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR {
                throw CLIError(
                    "waiting for \(arguments[0]): \(String(cString: strerror(errno)))", status: 1)
            }
        }
        forwardTo = 0
        let signal = status & 0x7f
        return signal == 0
            ? Ending(status: (status >> 8) & 0xff, signal: nil) : Ending(status: 128 + signal, signal: signal)
    }

    private static func installForwarding() {
        for signo in [SIGINT, SIGTERM] {
            var current = sigaction()
            sigaction(signo, nil, &current)
            let handler = current.__sigaction_handler.sa_handler.map { unsafeBitCast($0, to: Int.self) }
            if handler == unsafeBitCast(SIG_IGN, to: Int.self) { continue }  // the program inherits it
            var action = sigaction()
            action.__sigaction_handler.sa_sigaction = { signo, info, _ in
                let code = info?.pointee.si_code ?? Int32(SI_USER)
                if forwardTo > 0 && (code == Int32(SI_USER) || code == Int32(SI_QUEUE)) {
                    kill(forwardTo, signo)
                }
            }
            action.sa_flags = SA_SIGINFO | SA_RESTART
            sigemptyset(&action.sa_mask)
            sigaction(signo, &action, nil)
        }
    }
}

extension Launcher {
    /// How a program ended.
    struct Ending {
        /// The status memtrace exits with: the program's own, or 128 + the signal that killed it,
        /// as a shell reports it.
        var status: Int32
        /// The signal that killed it; nil when it exited, whatever its status (the JVM answers
        /// SIGTERM with exit(143)).
        var signal: Int32?

        /// "exited with status 3", "was killed by signal 15 (SIGTERM)".
        var description: String {
            guard let signal else { return "exited with status \(status)" }
            return "was killed by signal \(signal)" + (Launcher.signalNames[signal].map { " (\($0))" } ?? "")
        }
    }

    static let signalNames: [Int32: String] = [
        SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL", SIGTRAP: "SIGTRAP",
        SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGKILL: "SIGKILL", SIGUSR1: "SIGUSR1",
        SIGSEGV: "SIGSEGV", SIGUSR2: "SIGUSR2", SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM",
        SIGXCPU: "SIGXCPU", SIGXFSZ: "SIGXFSZ", SIGSYS: "SIGSYS",
    ]
}

/// The current directory.
func currentDirectory() -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    guard getcwd(&buffer, buffer.count) != nil else { return "/" }
    return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}

/// The target of a symbolic link such as `/proc/self/exe`.
func readLink(_ path: String) -> String? {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let count = readlink(path, &buffer, buffer.count - 1)
    guard count > 0 else { return nil }
    return buffer.withUnsafeBufferPointer { raw in
        String(decoding: UnsafeRawBufferPointer(start: raw.baseAddress, count: count), as: UTF8.self)
    }
}

/// The names in a directory, without `.` and `..`; none when it cannot be read.
func directoryNames(_ path: String) -> [String] {
    guard let directory = opendir(path) else { return [] }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

/// Whether `path` names an existing regular file (or a link to one).
func isFile(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
}

/// `CLOCK_REALTIME` in nanoseconds.
func realtimeNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// The process's environment.
func currentEnvironment() -> [String: String] {
    var result: [String: String] = [:]
    var pointer = environ
    while let entry = pointer.pointee {
        let text = String(cString: entry)
        if let equals = text.firstIndex(of: "=") {
            result[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        pointer += 1
    }
    return result
}

/// The bytes the process was given, where Swift's strings would change them: a byte that is not
/// UTF-8 (a file `caf\xe9.txt` named in Latin-1) becomes U+FFFD in a `String`, so the program
/// run and its environment are passed from the bytes given, wherever their text is unchanged.
enum RawArguments {
    static func isUTF8(_ raw: UnsafePointer<CChar>) -> Bool {
        let bytes = UnsafeRawBufferPointer(start: raw, count: strlen(raw))
        return String(validating: bytes, as: UTF8.self) != nil
    }

    /// Copies of `arguments`, the command line's last ones (a program and its arguments): each
    /// from the bytes given where they read as it, else from its text.
    static func program(_ arguments: [String]) -> [UnsafeMutablePointer<CChar>?] {
        let first = Int(CommandLine.argc) - arguments.count
        return arguments.enumerated().map { index, argument in
            if first >= 1, let raw = CommandLine.unsafeArgv[first + index], String(cString: raw) == argument {
                return strdup(raw)
            }
            return strdup(argument)
        }
    }

    /// `KEY=VALUE` copies of `environment`: from this process's own entry where it reads as the
    /// same key and value, else from their text.
    static func environment(_ environment: [String: String]) -> [UnsafeMutablePointer<CChar>?] {
        var given: [String: UnsafeMutablePointer<CChar>] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            given[String(cString: entry)] = entry
            pointer += 1
        }
        return environment.map { key, value in
            let entry = "\(key)=\(value)"
            return given[entry].map { strdup($0) } ?? strdup(entry)
        }
    }

    /// The first of memtrace's own arguments (not the program's, `passthrough` last ones) that
    /// is not UTF-8, with its position, if any.
    static func firstNotUTF8(passthrough: Int) -> (position: Int, text: String)? {
        let end = Int(CommandLine.argc) - passthrough
        guard end > 1 else { return nil }
        for index in 1..<end {
            if let raw = CommandLine.unsafeArgv[index], !isUTF8(raw) {
                var shown = ""
                for byte in UnsafeRawBufferPointer(start: raw, count: strlen(raw)) {
                    shown +=
                        (0x20..<0x7f).contains(byte) ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
                }
                return (index, shown)
            }
        }
        return nil
    }
}
