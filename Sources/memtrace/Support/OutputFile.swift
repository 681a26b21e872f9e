#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Writes `bytes` to `path` (`-` is standard output) through a temporary file renamed over it.
///
/// The temporary file is created afresh (`O_EXCL`, `O_NOFOLLOW`): a symbolic link planted at its
/// name (in a shared directory such as /tmp) is removed, never followed into someone's file.
///
/// - Throws: ``CLIError`` naming the file and the system's reason.
func writeOutput(_ bytes: [UInt8], to path: String) throws {
    if path == "-" {
        try writeAll(fd: 1, bytes, name: "standard output")
        return
    }
    // A device or a pipe (/dev/null, /dev/stdout, >(…)) is written in place: renaming over it
    // would put a file where the device was. Nothing else but a regular file is replaced.
    var info = stat()
    if stat(path, &info) == 0 && info.st_mode & S_IFMT != S_IFREG {
        let kind = info.st_mode & S_IFMT
        guard kind == S_IFCHR || kind == S_IFIFO else {
            throw CLIError("cannot write \(path): \(kind == S_IFDIR ? "is a directory" : "not a regular file")")
        }
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CLIError("cannot write \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        try writeAll(fd: fd, bytes, name: path)
        return
    }
    let temporary = "\(path).tmp.\(getpid())"
    let flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
    var fd = open(temporary, flags, 0o644)
    if fd < 0 && errno == EEXIST {
        // A leftover of an earlier process with our pid, or something planted there.
        unlink(temporary)
        fd = open(temporary, flags, 0o644)
    }
    guard fd >= 0 else {
        throw CLIError("cannot create \(path): \(String(cString: strerror(errno)))")
    }
    do {
        try writeAll(fd: fd, bytes, name: path)
    } catch {
        close(fd)
        unlink(temporary)
        throw error
    }
    if close(fd) != 0 || rename(temporary, path) != 0 {
        let reason = String(cString: strerror(errno))
        unlink(temporary)
        throw CLIError("cannot write \(path): \(reason)")
    }
}

/// Writes `text` to `path` (`-` is standard output).
func writeOutput(_ text: String, to path: String) throws {
    try writeOutput(Array(text.utf8), to: path)
}

private func writeAll(fd: Int32, _ bytes: [UInt8], name: String) throws {
    var written = 0
    while written < bytes.count {
        let count = bytes.withUnsafeBytes { raw in
            write(fd, raw.baseAddress! + written, raw.count - written)
        }
        if count < 0 {
            if errno == EINTR { continue }
            throw CLIError("cannot write \(name): \(String(cString: strerror(errno)))")
        }
        written += count
    }
}
