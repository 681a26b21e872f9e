#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Why the dynamic loader will not preload the tracer into `program` (searched in the `PATH` of
/// `environment`, as the launcher runs it): a statically linked executable (no loader runs for
/// it, as for a Go program built without cgo), or one that runs set-user-ID or set-group-ID as
/// someone else (the loader ignores LD_PRELOAD for it). Nil when it will, or when that cannot be
/// told (a file that cannot be read, an executable of another format). A script is judged by its
/// interpreter (`depth`: how many scripts led here; the kernel follows a few).
func whyNotPreloadable(_ program: String, environment: [String: String], depth: Int = 0) -> String? {
    guard let path = executablePath(program, searchPath: environment["PATH"] ?? "/usr/bin:/bin") else {
        return nil
    }
    var info = stat()
    if stat(path, &info) == 0 {
        if info.st_mode & S_ISUID != 0 && info.st_uid != geteuid() {
            return "\(program) is set-user-ID: the dynamic loader ignores LD_PRELOAD for it"
        }
        if info.st_mode & S_ISGID != 0 && info.st_gid != getegid() {
            return "\(program) is set-group-ID: the dynamic loader ignores LD_PRELOAD for it"
        }
    }
    guard let head = readPrefix(path, count: 4096) else { return nil }
    if head.starts(with: Array("#!".utf8)) {
        let line = head.dropFirst(2).prefix { $0 != UInt8(ascii: "\n") }
        let interpreter = String(decoding: line, as: UTF8.self).split(separator: " ").first.map(String.init)
        guard let interpreter, interpreter.hasPrefix("/"), depth < 4 else { return nil }
        return whyNotPreloadable(interpreter, environment: environment, depth: depth + 1).map {
            "\(program)'s interpreter \($0)"
        }
    }
    return isStaticELF(head, path: path)
        ? "\(program) is statically linked: no dynamic loader runs in it to preload the tracer" : nil
}

/// ``whyNotPreloadable(_:environment:depth:)``, said on standard error before the program runs.
func warnIfNotPreloadable(_ program: String, environment: [String: String]) -> String? {
    let why = whyNotPreloadable(program, environment: environment)
    if let why { printError("memtrace: \(why); it runs untraced") }
    return why
}

/// `program` itself when it holds a slash, else the first executable of that name in `searchPath`.
private func executablePath(_ program: String, searchPath: String) -> String? {
    if program.contains("/") { return program }
    for directory in searchPath.split(separator: ":", omittingEmptySubsequences: false) {
        let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + program
        if access(candidate, X_OK) == 0 && isFile(candidate) { return candidate }
    }
    return nil
}

/// Up to `count` bytes from the start of `path`.
private func readPrefix(_ path: String, count: Int) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes = [UInt8](repeating: 0, count: count)
    let got = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, count) }
    return got > 0 ? Array(bytes.prefix(got)) : nil
}

/// Whether `head` (the first bytes of `path`) starts a 64-bit little-endian ELF executable
/// without a PT_INTERP program header: one the kernel starts without the dynamic loader.
private func isStaticELF(_ head: [UInt8], path: String) -> Bool {
    guard head.count >= 64, head.starts(with: [0x7f, 0x45, 0x4c, 0x46]), head[4] == 2, head[5] == 1 else {
        return false
    }
    func integer(_ bytes: ArraySlice<UInt8>) -> Int { bytes.reversed().reduce(0) { $0 << 8 | Int($1) } }
    let type = integer(head[16..<18])
    guard type == 2 || type == 3 else { return false }  // ET_EXEC, ET_DYN
    let offset = integer(head[32..<40])
    let size = integer(head[54..<56])
    let count = integer(head[56..<58])
    guard size >= 56, count > 0, count < 4096, offset > 0, offset < 1 << 20 else { return false }
    guard let headers = readPrefix(path, count: offset + size * count), headers.count == offset + size * count
    else { return false }
    // PT_INTERP: the loader the kernel starts first. A static PIE has none either.
    return !(0..<count).contains { integer(headers[offset + $0 * size..<offset + $0 * size + 4]) == 3 }
}
