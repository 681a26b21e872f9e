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

/// Why the tracer cannot run in `program` at all, found as its executable is: built with
/// AddressSanitizer, whose runtime stops the program unless it is the first library loaded, before
/// any preloaded one. Nil otherwise, or when that cannot be told.
func whyNotTraceable(_ program: String, environment: [String: String]) -> String? {
    guard let path = executablePath(program, searchPath: environment["PATH"] ?? "/usr/bin:/bin"),
        let strings = dynamicStrings(path)
    else { return nil }
    // Its runtime as a library of its own (gcc's and clang's default); linked in instead
    // (-static-libasan), it brings a malloc of its own that comes first, and the tracer says so.
    guard strings.split(separator: 0).contains(where: { $0.starts(with: Array("libasan.so".utf8)) }) else { return nil }
    return "\(program) is built with AddressSanitizer, whose runtime stops a program it is not the first library "
        + "of (the tracer is preloaded before it): run it without memtrace (AddressSanitizer reports leaks itself, "
        + "LeakSanitizer being part of it)"
}

/// The dynamic string table (.dynstr: needed libraries and imported symbols) of a 64-bit
/// little-endian ELF file, found from its section headers; nil when it has none or is no such file.
private func dynamicStrings(_ path: String) -> [UInt8]? {
    guard let head = readPrefix(path, count: 64), head.count == 64, head.starts(with: [0x7f, 0x45, 0x4c, 0x46]),
        head[4] == 2, head[5] == 1
    else { return nil }
    func integer(_ bytes: ArraySlice<UInt8>) -> Int { bytes.reversed().reduce(0) { $0 << 8 | Int($1) } }
    let offset = integer(head[40..<48])
    let size = integer(head[58..<60])
    let count = integer(head[60..<62])
    guard size >= 64, count > 0, count < 1 << 16, offset > 0,
        let headers = readRange(path, offset: offset, count: size * count), headers.count == size * count
    else { return nil }
    for index in 0..<count {
        let section = headers[index * size..<(index + 1) * size]
        let start = section.startIndex
        guard integer(section[start + 4..<start + 8]) == 6 else { continue }  // SHT_DYNAMIC
        let link = integer(section[start + 40..<start + 44])
        guard link < count else { return nil }
        let strtab = headers[link * size..<(link + 1) * size]
        let at = integer(strtab[strtab.startIndex + 24..<strtab.startIndex + 32])
        let length = integer(strtab[strtab.startIndex + 32..<strtab.startIndex + 40])
        guard length > 0, length < 64 << 20 else { return nil }
        return readRange(path, offset: at, count: length)
    }
    return nil
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

/// Up to `count` bytes of `path` from `offset` on.
private func readRange(_ path: String, offset: Int, count: Int) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes = [UInt8](repeating: 0, count: count)
    let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
    return got > 0 ? Array(bytes.prefix(got)) : nil
}

/// Up to `count` bytes from the start of `path`.
private func readPrefix(_ path: String, count: Int) -> [UInt8]? { readRange(path, offset: 0, count: count) }

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
