import Symbolizer

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A filter on traces, as Python's `tracemalloc.Filter`.
///
/// The pattern is a shell glob (`fnmatch(3)` without `FNM_PATHNAME`, so `*`
/// also matches `/`, as Python's `fnmatch`) tried against a frame's source
/// file, its function and its module (full path or file name): any of them
/// matching is a match. With a line number, only the file is tried and the
/// line must be equal. Without `allFrames` only the stack's site (``LibraryFrames``) is
/// examined, with it any frame of the stack.
///
/// A trace is kept when there is no inclusive filter or any inclusive filter
/// matches it, and no exclusive filter matches it (``keeps(_:)``).
public struct TraceFilter: Sendable, Equatable {
    /// Keep matching traces (`--include`) rather than drop them (`--exclude`).
    public var inclusive: Bool
    /// The glob.
    public var pattern: String
    /// When set, the frame's line must be this one (and the glob is tried on the file only).
    public var line: Int?
    /// Examine every frame of the stack, not only its site.
    public var allFrames: Bool

    /// Creates a filter.
    public init(inclusive: Bool, pattern: String, line: Int? = nil, allFrames: Bool = false) {
        self.inclusive = inclusive
        self.pattern = pattern
        self.line = line
        self.allFrames = allFrames
    }

    /// Creates a filter from command-line text: a glob, optionally followed by
    /// `:LINE` (`leaky.c:12`, `*/src/*.c:40`).
    public init(parsing text: String, inclusive: Bool, allFrames: Bool = false) {
        if let colon = text.lastIndex(of: ":"), colon != text.startIndex,
            let line = Int(text[text.index(after: colon)...]), line >= 0
        {
            self.init(
                inclusive: inclusive, pattern: String(text[..<colon]), line: line, allFrames: allFrames)
        } else {
            self.init(inclusive: inclusive, pattern: text, allFrames: allFrames)
        }
    }

    /// Whether `frame` matches the pattern (and line), regardless of `inclusive`.
    public func matches(_ frame: Frame) -> Bool {
        if let line {
            return line == frame.line && Self.glob(pattern, frame.file)
        }
        return Self.glob(pattern, frame.file) || Self.glob(pattern, frame.function)
            || Self.glob(pattern, frame.module) || Self.glob(pattern, basename(frame.module))
    }

    /// Whether the filter matches a stack (innermost frame first) at its site, or at any frame with
    /// `allFrames`, regardless of `inclusive`.
    public func matches(stack frames: [Frame]) -> Bool {
        if allFrames { return frames.contains(where: matches) }
        return LibraryFrames.site(frames).map(matches) ?? false
    }

    /// Whether a stack (innermost frame first) survives `filters`.
    public static func keeps(_ frames: [Frame], filters: [TraceFilter]) -> Bool {
        let includes = filters.filter(\.inclusive)
        if !includes.isEmpty && !includes.contains(where: { $0.matches(stack: frames) }) {
            return false
        }
        return !filters.contains { !$0.inclusive && $0.matches(stack: frames) }
    }

    static func glob(_ pattern: String, _ text: String) -> Bool {
        fnmatch(pattern, text, FNM_NOESCAPE) == 0
    }
}

/// What one test says of each frame of a ``FrameTable``, decided once per frame id: stacks share
/// most of their frames, and a test (a glob, a suppression pattern) costs more than a look-up.
struct FrameVerdicts {
    /// Per frame id: 0 not decided, 1 yes, 2 no.
    private var known: [UInt8] = []

    /// `test`'s answer for frame `id` of `table`, asked only the first time.
    mutating func verdict(_ id: Int32, in table: FrameTable, _ test: (Frame) -> Bool) -> Bool {
        let index = Int(id)
        if known.count <= index {
            known.append(contentsOf: repeatElement(0, count: max(table.count, index + 1) - known.count))
        }
        if known[index] != 0 { return known[index] == 1 }
        let result = test(table.frame(id))
        known[index] = result ? 1 : 2
        return result
    }
}

/// Applies filters to the traces of one ``FrameTable``, deciding each frame once.
struct FilterSet {
    let filters: [TraceFilter]
    let table: FrameTable
    /// Per filter.
    private var verdicts: [FrameVerdicts]

    init(_ filters: [TraceFilter], table: FrameTable) {
        self.filters = filters
        self.table = table
        self.verdicts = Array(repeating: FrameVerdicts(), count: filters.count)
    }

    var isEmpty: Bool { filters.isEmpty }

    mutating func matches(_ index: Int, _ id: Int32) -> Bool {
        verdicts[index].verdict(id, in: table, filters[index].matches)
    }

    mutating func matches(_ index: Int, stack: [Int32]) -> Bool {
        if filters[index].allFrames { return stack.contains { matches(index, $0) } }
        return matches(index, table.site(of: stack))
    }

    mutating func keeps(_ stack: [Int32]) -> Bool {
        if filters.isEmpty { return true }
        var anyInclude = false
        var included = false
        for index in filters.indices where filters[index].inclusive {
            anyInclude = true
            if matches(index, stack: stack) {
                included = true
                break
            }
        }
        if anyInclude && !included { return false }
        for index in filters.indices where !filters[index].inclusive {
            if matches(index, stack: stack) { return false }
        }
        return true
    }
}
