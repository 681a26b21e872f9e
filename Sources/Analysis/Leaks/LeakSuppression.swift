import Symbolizer

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// One LeakSanitizer-style suppression: `leak:PATTERN`.
///
/// A block is suppressed when the pattern matches the function, the source file or the module
/// of any frame of its allocation stack. As in LeakSanitizer, the pattern matches anywhere in
/// the text (`leak:libfoo` matches `/usr/lib/libfoo.so.1`) unless it starts with `^` (anchored
/// at the start) or ends with `$` (anchored at the end); `*` matches any run of characters,
/// other characters match themselves. A file holds one rule a line; blank lines and lines
/// starting with `#` are skipped.
public struct LeakSuppression: Sendable, Equatable {
    /// The text after `leak:`.
    public var pattern: String
    /// Where the rule comes from: `FILE:LINE`, or `built-in`.
    public var origin: String
    /// Why a built-in rule exists; empty for rules read from a file.
    public var reason: String
    /// A second pattern that the stack's innermost frame (the one that called the allocator) must
    /// also match; `nil` for rules read from a file. Built-in rules use it to name what a library
    /// allocates itself without hiding what a program allocates through that library.
    public var innermost: String?
    /// Whether the pattern must match a frame other than the innermost; false for rules read from
    /// a file. A built-in rule uses it for a library function that keeps what it loads but hands
    /// the object it allocates itself to the program (`newlocale`'s `locale_t`).
    public var outer: Bool

    /// A rule matching `pattern` (the text after `leak:`).
    public init(
        pattern: String, innermost: String? = nil, outer: Bool = false, origin: String = "", reason: String = ""
    ) {
        self.pattern = pattern
        self.innermost = innermost
        self.outer = outer
        self.origin = origin
        self.reason = reason
    }

    /// The rule as a suppression file writes it: `leak:PATTERN`, followed by
    /// ` (innermost frame: PATTERN)` when ``innermost`` is set, or ` (not the innermost frame)`
    /// when ``outer`` is.
    public var rule: String {
        "leak:" + pattern + (innermost.map { " (innermost frame: \($0))" } ?? "")
            + (outer ? " (not the innermost frame)" : "")
    }

    /// Whether the pattern matches `frame`'s function, file or module.
    public func matches(_ frame: Frame) -> Bool { Template(pattern).matches(frame) }

    /// Whether the pattern matches any frame of `stack` (innermost first), and ``innermost``,
    /// when set, its first frame.
    public func matches(stack: [Frame]) -> Bool {
        if let innermost {
            guard let first = stack.first, Template(innermost).matches(first) else { return false }
        }
        let template = Template(pattern)
        return stack.dropFirst(outer ? 1 : 0).contains(where: template.matches)
    }

    /// Reads the rules of a suppression file's text.
    ///
    /// - Parameters:
    ///   - text: the file's contents.
    ///   - file: its name, for ``origin`` and error messages.
    /// - Returns: the rules in file order.
    /// - Throws: ``AnalysisError`` naming `FILE:LINE` for a line that is not `leak:PATTERN`
    ///   with a non-empty pattern (other sanitizers' rule types included).
    public static func parse(_ text: String, file: String) throws -> [LeakSuppression] {
        var rules: [LeakSuppression] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingSpaces()
            if line.isEmpty || line.hasPrefix("#") { continue }
            let place = "\(file):\(index + 1)"
            guard let colon = line.firstIndex(of: ":") else {
                throw AnalysisError("\(place): expected leak:PATTERN, found \"\(line)\"")
            }
            let type = line[..<colon]
            guard type == "leak" else {
                throw AnalysisError(
                    "\(place): unsupported suppression type \"\(type)\" (memtrace reads only leak:PATTERN lines)")
            }
            let pattern = line[line.index(after: colon)...].trimmingSpaces()
            guard !pattern.isEmpty else { throw AnalysisError("\(place): empty pattern after leak:") }
            rules.append(LeakSuppression(pattern: pattern, origin: place))
        }
        return rules
    }

    /// Reads a suppression file.
    ///
    /// - Throws: ``AnalysisError`` when the file cannot be read or a line is malformed.
    public static func load(path: String) throws -> [LeakSuppression] {
        guard let file = fopen(path, "r") else {
            throw AnalysisError("cannot read suppressions \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count > 0 { bytes.append(contentsOf: buffer[..<count]) }
            // A suppression list is a few lines: more than this is not one (say, /dev/zero).
            if bytes.count > 16 << 20 {
                throw AnalysisError("cannot read suppressions \(path): more than 16 MiB, not a suppression list")
            }
            if count < buffer.count {
                if ferror(file) != 0 {
                    throw AnalysisError("cannot read suppressions \(path): \(String(cString: strerror(errno)))")
                }
                break
            }
        }
        return try parse(String(decoding: bytes, as: UTF8.self), file: path)
    }

    /// Matches `text` against an LSan template: substring unless anchored by `^`/`$`, `*` any run.
    static func match(_ pattern: String, _ text: String) -> Bool { Template(pattern).matches(text) }

    /// A pattern read once: without `*` (every built-in rule, most rules of files) a comparison of
    /// bytes; with it, a glob for fnmatch built once.
    struct Template {
        private var literal: [UInt8] = []
        private var anchoredStart = false
        private var anchoredEnd = false
        private var glob: [CChar]?

        init(_ pattern: String) {
            var pattern = Substring(pattern)
            anchoredStart = pattern.first == "^"
            if anchoredStart { pattern = pattern.dropFirst() }
            anchoredEnd = pattern.last == "$"
            if anchoredEnd { pattern = pattern.dropLast() }
            // By bytes, not characters: a `*` followed by a combining mark is still a `*`.
            guard pattern.utf8.contains(UInt8(ascii: "*")) else {
                literal = Array(pattern.utf8)
                return
            }
            var glob = anchoredStart ? "" : "*"
            for scalar in pattern.unicodeScalars {
                // fnmatch's own specials stand for themselves in a suppression.
                if "?[]\\".unicodeScalars.contains(scalar) { glob.unicodeScalars.append("\\") }
                glob.unicodeScalars.append(scalar)
            }
            if !anchoredEnd { glob += "*" }
            self.glob = Array(glob.utf8CString)
        }

        func matches(_ frame: Frame) -> Bool {
            matches(frame.function) || matches(frame.file) || matches(frame.module)
        }

        func matches(_ text: String) -> Bool {
            if text.isEmpty { return false }
            if let glob { return fnmatch(glob, text, 0) == 0 }
            var text = text
            return text.withUTF8 { text in
                let n = literal.count
                if n > text.count { return false }
                if anchoredStart && anchoredEnd { return n == text.count && text.elementsEqual(literal) }
                if anchoredStart { return text.prefix(n).elementsEqual(literal) }
                if anchoredEnd { return text.suffix(n).elementsEqual(literal) }
                if n == 0 { return true }
                let first = literal[0]
                var start = 0
                while start + n <= text.count {
                    if text[start] == first && text[start..<start + n].elementsEqual(literal) { return true }
                    start += 1
                }
                return false
            }
        }
    }
}

/// Suppression rules tried against the stacks of one frame table, as a leak report does for every
/// stack with a live block: each pattern read once, and what a rule says of a frame decided once
/// per frame id (stacks share most of their frames: a compiler's exit snapshot has 28,000 stacks
/// over a few thousand functions, and deciding each afresh took seconds).
struct SuppressionMatcher {
    private let rules: [(pattern: LeakSuppression.Template, innermost: LeakSuppression.Template?, outer: Bool)]
    private let table: FrameTable
    /// Per rule: its pattern's verdicts, and its innermost pattern's.
    private var verdicts: [FrameVerdicts]
    private var innermostVerdicts: [FrameVerdicts]

    init(_ rules: [LeakSuppression], table: FrameTable) {
        self.rules = rules.map {
            (LeakSuppression.Template($0.pattern), $0.innermost.map(LeakSuppression.Template.init), $0.outer)
        }
        self.table = table
        verdicts = Array(repeating: FrameVerdicts(), count: rules.count)
        innermostVerdicts = verdicts
    }

    /// The index of the first rule that matches `stack` (frame ids, innermost first), or nil.
    mutating func firstRule(_ stack: [Int32]) -> Int? {
        for (index, rule) in rules.enumerated() {
            if let innermost = rule.innermost {
                guard let first = stack.first, innermostVerdicts[index].verdict(first, in: table, innermost.matches)
                else { continue }
            }
            for id in stack.dropFirst(rule.outer ? 1 : 0)
            where verdicts[index].verdict(id, in: table, rule.pattern.matches) {
                return index
            }
        }
        return nil
    }
}
