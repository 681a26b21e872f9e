import Analysis
import SnapshotReader

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Asks a running, traced process for snapshots (`memtrace snapshot`, `memtrace watch`): which
/// signal reaches its tracer and where it writes are found once, from `/proc`; each ``take()``
/// sends the signal and waits for the new file.
struct SnapshotRequest {
    let pid: Int32
    /// How long ``take()`` waits for the file, in seconds.
    let timeout: Double
    /// The signal that reaches the tracer's handler.
    let signal: Int32
    /// The process's MEMTRACE_OUTPUT, relative to its working directory.
    let pattern: OutputPattern

    /// Checks that `pid` is a traced process that takes snapshots on a signal it can be sent.
    init(pid: Int32, timeout: Double) throws {
        self.pid = pid
        self.timeout = timeout
        let proc = "/proc/\(pid)"
        guard kill(pid, 0) == 0 || errno == EPERM, isDirectory(proc) else {
            throw CLIError("no process \(pid)", status: 1)
        }
        guard let maps = readWhole(proc + "/maps") else {
            throw CLIError(
                "cannot read \(proc)/maps: \(String(cString: strerror(errno))) (is the process yours?)",
                status: 1)
        }
        guard maps.contains("/libtrace.so") else {
            throw CLIError("process \(pid) is not traced (libtrace.so is not loaded in it)", status: 1)
        }
        let environment = readEnviron(proc + "/environ")
        let signalName = environment["MEMTRACE_SIGNAL"] ?? ""
        guard let signo = Memtrace.SnapshotCommand.signalNumber(signalName) else {
            throw CLIError(
                "process \(pid) takes no snapshot on signal (MEMTRACE_SIGNAL=\(signalName))", status: 1)
        }
        let deadline = realtimeNanoseconds() + UInt64(timeout * 1e9)
        signal = try Memtrace.SnapshotCommand.signalReachingTracer(pid: pid, configured: signo, deadline: deadline)
        try Memtrace.SnapshotCommand.checkNotBlockedEverywhere(pid: pid, signo: signal)
        let cwd = readLink(proc + "/cwd") ?? "/"
        var output = environment["MEMTRACE_OUTPUT"] ?? ""
        if output.isEmpty { output = OutputPattern.defaultPattern }
        pattern = OutputPattern(output, relativeTo: cwd)
    }

    /// The process's snapshot files that exist now, with their modification times.
    func files() -> [String: UInt64] {
        var result: [String: UInt64] = [:]
        for path in pattern.existingFiles(pid: pid) { result[path] = modificationTime(path) }
        return result
    }

    /// The oldest of `pid`'s snapshots among the files new or changed since `before`, nil if none.
    func fresh(since before: [String: UInt64]) -> String? {
        let fresh = files().filter { path, time in before[path].map { time > $0 } ?? true }
        // Its header is enough (a snapshot takes its name whole): a snapshot of millions of blocks
        // was read and checked in full, 220 MB of memory.
        return fresh.keys.sorted { fresh[$0]! < fresh[$1]! }.first { snapshotOrigin(of: $0)?.pid == UInt32(pid) }
    }

    /// Sends the signal and waits for the snapshot it asks for; its path.
    func take() throws -> String {
        let before = files()
        guard kill(pid, signal) == 0 else {
            throw CLIError("cannot signal process \(pid): \(String(cString: strerror(errno)))", status: 1)
        }
        let deadline = realtimeNanoseconds() + UInt64(timeout * 1e9)
        repeat {
            usleep(20_000)
            if let path = fresh(since: before) { return path }
        } while realtimeNanoseconds() < deadline
        throw CLIError(
            "process \(pid) wrote no snapshot matching \(pattern.pattern) within \(timeout) s", status: 1)
    }
}

/// Whether `path` is a directory (following links).
func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
}

/// The whole content of a (proc) file, or `nil` when it cannot be read.
func readWhole(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var data: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = read(fd, &buffer, buffer.count)
        if count < 0 && errno == EINTR { continue }
        if count <= 0 { break }
        data += buffer[..<count]
    }
    return String(decoding: data, as: UTF8.self)
}

/// A `/proc/PID/environ` file as a dictionary.
func readEnviron(_ path: String) -> [String: String] {
    var result: [String: String] = [:]
    for entry in (readWhole(path) ?? "").split(separator: "\0") {
        if let equals = entry.firstIndex(of: "=") {
            result[String(entry[..<equals])] = String(entry[entry.index(after: equals)...])
        }
    }
    return result
}
