#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The tracer's snapshot file name pattern (`MEMTRACE_OUTPUT`), to find the files it wrote.
///
/// `%p` is the pid, `%n` the process's snapshot sequence number, `%e` the
/// executable's file name, `%h` the host name and `%%` a percent sign. A relative pattern is
/// relative to the directory the program started in. A child created by fork
/// appends `.%p` to a pattern that has no `%p`, so such a pattern also matches
/// names with a `.PID` suffix.
public struct OutputPattern: Sendable, Equatable {
    /// The tracer's default, `memtrace.%e.%p.%n.snap`.
    public static let defaultPattern = "memtrace.%e.%p.%n.snap"

    /// The absolute pattern.
    public var pattern: String

    /// Makes `pattern` absolute against `directory` when it is relative.
    public init(_ pattern: String, relativeTo directory: String) {
        if pattern.hasPrefix("/") {
            self.pattern = pattern
        } else {
            self.pattern = (directory.hasSuffix("/") ? directory : directory + "/") + pattern
        }
    }

    /// The file name the tracer would use.
    public func expand(pid: Int32, sequence: UInt64, executable: String, hostname: String = "") -> String {
        var out = ""
        var iterator = pattern.makeIterator()
        while let c = iterator.next() {
            guard c == "%" else {
                out.append(c)
                continue
            }
            switch iterator.next() {
            case "p": out += String(pid)
            case "n": out += String(sequence)
            case "e": out += basename(executable)
            case "h": out += String(hostname.map { $0 == "/" ? "_" : $0 })
            case nil: out.append("%")
            case let other?: out.append(other)
            }
        }
        return out
    }

    /// Whether `path` is a name this pattern produces (for `pid`, when given:
    /// `%p` must be that pid, or without `%p` the fork suffix must be absent or that pid).
    public func matches(_ path: String, pid: Int32? = nil) -> Bool {
        let patternParts = pattern.split(separator: "/", omittingEmptySubsequences: true).map(
            String.init)
        let pathParts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard patternParts.count == pathParts.count else { return false }
        let hasPID = pattern.contains("%p")
        for (index, (part, name)) in zip(patternParts, pathParts).enumerated() {
            let last = index == patternParts.count - 1
            if !Self.match(
                Self.tokens(part), Array(name.utf8)[...], pid: pid, forkSuffix: last && !hasPID)
            {
                return false
            }
        }
        return true
    }

    /// Existing files that match, oldest first (by modification time, then name).
    ///
    /// - Parameters:
    ///   - pid: only this process's files.
    ///   - since: only files modified at or after this `CLOCK_REALTIME` time, in nanoseconds.
    public func existingFiles(pid: Int32? = nil, since: UInt64 = 0) -> [String] {
        var found: [(String, UInt64)] = []
        let parts = pattern.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        walk("/", parts[...], pid: pid, since: since, into: &found)
        return found.sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }.map(\.0)
    }

    private func walk(
        _ directory: String, _ parts: ArraySlice<String>, pid: Int32?, since: UInt64,
        into found: inout [(String, UInt64)]
    ) {
        guard let part = parts.first else { return }
        let last = parts.count == 1
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        if !part.contains("%") && !last {
            walk(prefix + part, parts.dropFirst(), pid: pid, since: since, into: &found)
            return
        }
        let tokens = Self.tokens(part)
        let forkSuffix = last && !pattern.contains("%p")
        for name in Self.list(directory)
        where Self.match(tokens, Array(name.utf8)[...], pid: pid, forkSuffix: forkSuffix) {
            let path = prefix + name
            var info = stat()
            guard stat(path, &info) == 0 else { continue }
            if last {
                let mtime = UInt64(info.st_mtim.tv_sec) * 1_000_000_000 + UInt64(info.st_mtim.tv_nsec)
                if (info.st_mode & S_IFMT) == S_IFREG && mtime >= since { found.append((path, mtime)) }
            } else if (info.st_mode & S_IFMT) == S_IFDIR {
                walk(path, parts.dropFirst(), pid: pid, since: since, into: &found)
            }
        }
    }

    enum Token: Equatable {
        case literal(UInt8)
        case number  // %n
        case pid  // %p
        case name  // %e, %h: any run of bytes
    }

    static func tokens(_ part: String) -> [Token] {
        var tokens: [Token] = []
        var bytes = Array(part.utf8)[...]
        while let byte = bytes.popFirst() {
            guard byte == UInt8(ascii: "%"), let next = bytes.popFirst() else {
                tokens.append(.literal(byte))
                continue
            }
            switch next {
            case UInt8(ascii: "p"): tokens.append(.pid)
            case UInt8(ascii: "n"): tokens.append(.number)
            case UInt8(ascii: "e"), UInt8(ascii: "h"): tokens.append(.name)
            default: tokens.append(.literal(next))
            }
        }
        return tokens
    }

    /// Backtracking match of one path component.
    static func match(
        _ tokens: [Token], _ name: ArraySlice<UInt8>, pid: Int32?, forkSuffix: Bool
    )
        -> Bool
    {
        func digitsPrefix(_ s: ArraySlice<UInt8>) -> Int {
            s.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }.count
        }
        func rest(_ t: ArraySlice<Token>, _ s: ArraySlice<UInt8>) -> Bool {
            guard let token = t.first else {
                if s.isEmpty { return true }
                // A forked child's `.PID` suffix.
                guard forkSuffix, s.first == UInt8(ascii: "."), digitsPrefix(s.dropFirst()) == s.count - 1,
                    s.count > 1
                else { return false }
                if let pid { return String(decoding: s.dropFirst(), as: UTF8.self) == String(pid) }
                return true
            }
            switch token {
            case .literal(let byte):
                return s.first == byte && rest(t.dropFirst(), s.dropFirst())
            case .number, .pid:
                let count = digitsPrefix(s)
                guard count > 0 else { return false }
                for length in stride(from: count, through: 1, by: -1) {
                    if token == .pid, let pid,
                        String(decoding: s.prefix(length), as: UTF8.self) != String(pid)
                    {
                        continue
                    }
                    if rest(t.dropFirst(), s.dropFirst(length)) { return true }
                }
                return false
            case .name:
                for length in stride(from: s.count, through: 0, by: -1)
                where rest(t.dropFirst(), s.dropFirst(length)) {
                    return true
                }
                return false
            }
        }
        return rest(tokens[...], name)
    }

    static func list(_ directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
