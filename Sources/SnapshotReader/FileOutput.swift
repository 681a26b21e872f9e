#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// How every file memtrace writes is written (snapshots, reports, exports).
///
/// A regular file, or none yet, goes through `PATH.tmp.PID`, created afresh (`O_EXCL`,
/// `O_NOFOLLOW`: a symbolic link planted at that name is removed, never followed) and renamed
/// over `PATH`: a reader never sees half a file, and a failed write leaves the old one. A pipe
/// or a character device (`>(gzip > x.gz)`, `/dev/null`) is written in place: renaming over it
/// would put a file where the device was. A name for one of the process's descriptors
/// (`/dev/stdout`, `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N`) is that descriptor, written as
/// it stands (a file the shell opened for appending is appended to), if the process was given
/// it (``noteGivenDescriptors()``): never a file memtrace itself has open. A symbolic link to a
/// file that exists is followed: the file it names is replaced as above, the link stays; a link
/// to nothing is replaced itself. A file replaced gets the permissions it had where they are
/// narrower than `mode` (a report over a 0600 file stays 0600); as with any rename, a hard link
/// to the old file keeps the old contents. Anything else is refused.
/// The temporary file being written, as a C string for the signal handler; nil when none.
nonisolated(unsafe) private var pendingTemporary: UnsafeMutablePointer<CChar>?
nonisolated(unsafe) private var cleanupInstalled = false
/// The descriptors open when the process started; nil: not noted, any may be named.
nonisolated(unsafe) private var givenDescriptors: Set<Int32>?

public enum FileOutput {
    /// Where writing `file` failed, with the `errno` value.
    public struct Failure: Error, Sendable {
        public enum Stage: Sendable {
            /// `path` is neither a regular file, nor a pipe or a device (`code`: EISDIR for a directory).
            case refused
            /// Opening the pipe or device.
            case open
            /// Creating the temporary file.
            case create
            /// Writing or closing `file`.
            case write
            /// Renaming the temporary file over `path`.
            case rename
        }
        public var stage: Stage
        /// The file concerned: `path`, or the temporary one.
        public var file: String
        public var code: Int32
    }

    /// Writes `bytes` to `path`; the temporary file gets `mode`, and with `durable` its bytes
    /// reach the disk before it replaces `path`.
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t, durable: Bool) throws(Failure) {
        try write(to: path, mode: mode, durable: durable) { fd in writeAll(fd, bytes) }
    }

    /// Writes what `produce` hands its argument, piece after piece, to `path`, as
    /// ``write(_:to:mode:durable:)`` writes one array: an output too large to hold whole goes
    /// out as it is made. After a piece fails to be written the others are not.
    public static func write(
        to path: String, mode: mode_t, durable: Bool, pieces produce: (_ emit: ([UInt8]) -> Void) -> Void
    ) throws(Failure) {
        try write(to: path, mode: mode, durable: durable) { fd in writeAll(fd, pieces: produce) }
    }

    /// `content` writes the whole output to the descriptor it is given: nil, or the `errno` of
    /// the write that failed.
    private static func write(
        to path: String, mode: mode_t, durable: Bool, content: (Int32) -> Int32?
    ) throws(Failure) {
        if let fd = descriptor(named: path) {
            if fcntl(fd, F_GETFD) < 0 || givenDescriptors.map({ !$0.contains(fd) }) ?? false {
                throw Failure(stage: .open, file: path, code: EBADF)
            }
            if let code = content(fd) { throw Failure(stage: .write, file: path, code: code) }
            return
        }
        var path = path
        var info = stat()
        if lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFLNK && stat(path, &info) == 0,
            let resolved = realpath(path, nil)
        {
            path = String(cString: resolved)
            free(resolved)
        }
        var mode = mode
        let kind = stat(path, &info) == 0 ? info.st_mode & S_IFMT : 0
        if kind == S_IFREG {
            mode &= info.st_mode & 0o777
        } else if kind != 0 {
            guard kind == S_IFCHR || kind == S_IFIFO else {
                throw Failure(stage: .refused, file: path, code: kind == S_IFDIR ? EISDIR : EEXIST)
            }
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            if fd < 0 { throw Failure(stage: .open, file: path, code: errno) }
            defer { close(fd) }
            if let code = content(fd) { throw Failure(stage: .write, file: path, code: code) }
            return
        }
        let temporary = temporaryName(for: path)
        removedOnSignal(temporary)
        defer { removedOnSignal(nil) }
        let flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
        var fd = open(temporary, flags, mode)
        if fd < 0 && errno == EEXIST {
            // Left behind by an earlier process with our pid, or something planted there.
            unlink(temporary)
            fd = open(temporary, flags, mode)
        }
        if fd < 0 { throw Failure(stage: .create, file: temporary, code: errno) }
        var failure: Failure?
        if let code = content(fd) ?? (durable && fsync(fd) != 0 ? errno : nil) {
            failure = Failure(stage: .write, file: temporary, code: code)
        }
        if close(fd) != 0 && failure == nil { failure = Failure(stage: .write, file: temporary, code: errno) }
        if failure == nil && rename(temporary, path) != 0 {
            failure = Failure(stage: .rename, file: temporary, code: errno)
        }
        if let failure {
            unlink(temporary)
            throw failure
        }
    }

    /// `PATH.tmp.PID`, with as much of the last component of `path` as fits a file name
    /// (`NAME_MAX` bytes): a name near that length must not fail for its temporary's.
    static func temporaryName(for path: String) -> String {
        let suffix = Array(".tmp.\(getpid())".utf8)
        var bytes = Array(path.utf8)
        let start = (bytes.lastIndex(of: UInt8(ascii: "/")).map { $0 + 1 }) ?? 0
        let limit = Int(NAME_MAX) - suffix.count
        if bytes.count - start > limit {
            var end = start + limit
            while end > start && bytes[end] & 0xC0 == 0x80 { end -= 1 }  // not inside a character
            bytes.removeSubrange(end...)
        }
        return String(decoding: bytes + suffix, as: UTF8.self)
    }

    /// Makes SIGINT, SIGTERM and SIGHUP (where they have their default action) remove
    /// `temporary` before they end the process, so that an interrupted write leaves nothing
    /// behind; nil: nothing to remove.
    static func removedOnSignal(_ temporary: String?) {
        if !cleanupInstalled {
            cleanupInstalled = true
            for signal in [SIGINT, SIGTERM, SIGHUP] {
                var current = sigaction()
                guard sigaction(signal, nil, &current) == 0, current.__sigaction_handler.sa_handler == nil,
                    current.sa_flags & SA_SIGINFO == 0
                else { continue }
                var action = sigaction()
                action.__sigaction_handler.sa_handler = { signal in
                    if let file = pendingTemporary { unlink(file) }
                    Glibc.signal(signal, SIG_DFL)
                    raise(signal)
                }
                sigemptyset(&action.sa_mask)
                sigaction(signal, &action, nil)
            }
        }
        let old = pendingTemporary
        pendingTemporary = temporary.map { strdup($0) }
        free(old)
    }

    /// Notes the descriptors the process was started with, the only ones a name such as
    /// `/dev/fd/3` may then reach; called first thing, before any file is opened.
    public static func noteGivenDescriptors() {
        guard let directory = opendir("/proc/self/fd") else { return }
        defer { closedir(directory) }
        var given = Set<Int32>()
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let fd = Int32(name), fd != dirfd(directory) { given.insert(fd) }
        }
        givenDescriptors = given
    }

    /// The descriptor `path` names: 1 for `/dev/stdout`, N for `/dev/fd/N` or `/proc/self/fd/N`…
    static func descriptor(named given: String) -> Int32? {
        guard given.hasPrefix("/") else { return nil }
        // "/dev//fd/3" and "/dev/./fd/3" are "/dev/fd/3".
        let path = "/" + given.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
        switch path {
        case "/dev/stdin": return 0
        case "/dev/stdout": return 1
        case "/dev/stderr": return 2
        default: break
        }
        for prefix in ["/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/", "/proc/\(getpid())/fd/"]
        where path.hasPrefix(prefix) {
            let number = path.dropFirst(prefix.count)
            if !number.isEmpty, number.allSatisfy({ $0.isASCII && $0.isNumber }), let fd = Int32(number) {
                return fd
            }
        }
        return nil
    }

    /// Writes every piece `produce` hands its argument to `fd`, as it comes: nil, or the `errno`
    /// of the write that failed (the pieces after it are not written).
    public static func writeAll(_ fd: Int32, pieces produce: (_ emit: ([UInt8]) -> Void) -> Void) -> Int32? {
        var failed: Int32?
        produce { piece in
            if failed == nil { failed = writeAll(fd, piece) }
        }
        return failed
    }

    /// Writes every byte to `fd`: nil, or the `errno` of the write that failed.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32? {
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return count < 0 ? errno : EIO }
            written += count
        }
        return nil
    }
}
