import SnapshotReader
import Symbolizer

/// How statistics group the traced blocks, as tracemalloc's `key_type`.
public enum GroupBy: String, CaseIterable, Sendable {
    /// The site (the stack's first frame of the program's own, ``LibraryFrames``): module,
    /// function, file and line (tracemalloc's `lineno`).
    case lineno
    /// The site's function (and the file and module defining it).
    case function
    /// The site's source file, shown with line 0 as tracemalloc's `filename`;
    /// the module when the file is unknown.
    case file
    /// The site's module (executable or shared library).
    case module
    /// The whole stack, every frame at line granularity.
    case traceback
}

/// Interns frames, so that stacks of one or several snapshots share a numbering.
///
/// Two frames are the same site when their module's file name (not its
/// directory, not its load address), function, source file and line agree, or
/// when neither has a source file, their module, function and offset agree.
/// This is what lets a diff match sites across two runs of a program loaded at
/// different addresses. A `FrameTable` is not thread-safe.
public final class FrameTable {
    struct Key: Hashable {
        var module: String
        var function: String
        var file: String
        var line: Int
        var offset: UInt64?
    }

    /// A representative frame for every id.
    private(set) var frames: [Frame] = []
    private(set) var isAllocator: [Bool] = []
    /// Frames of the languages' standard libraries, which a site passes over (``LibraryFrames``).
    private(set) var isLibrary: [Bool] = []
    /// Frames of the tracer itself (libtrace.so), never shown anywhere in a stack.
    private(set) var isTracer: [Bool] = []
    private var ids: [Key: Int32] = [:]
    /// Per grouping, the id (in this same table) of each frame's coarser site.
    private var coarse: [GroupBy: [Int32]] = [:]

    /// Creates an empty table.
    public init() {}

    /// The number of distinct frames interned so far.
    public var count: Int { frames.count }

    /// The id of `frame`, interning it when it is new.
    func intern(_ frame: Frame) -> Int32 {
        let module = basename(frame.module)
        let key = Key(
            module: module, function: frame.function, file: frame.file, line: frame.line,
            offset: frame.file.isEmpty ? frame.offset : nil)
        let next = Int32(frames.count)
        let id = ids[key, default: next]
        guard id == next else { return id }
        ids[key] = id
        frames.append(Self.shown(frame))
        isAllocator.append(AllocatorFrames.isAllocatorFrame(frame, moduleName: module))
        isLibrary.append(LibraryFrames.isLibraryFrame(frame, moduleName: module))
        isTracer.append(module.hasPrefix("libtrace."))
        return id
    }

    /// Longest function name a frame shows, in bytes of UTF-8: a demangled template can run to
    /// tens of kilobytes, which no report is the better for, and every renderer repeating it
    /// once per stack it appears in (folded lines, tracebacks, JSON) multiplies it.
    public static let maximumFunctionLength = 1024
    /// Longest file, directory or module path a frame shows (PATH_MAX: no longer path opens).
    public static let maximumPathLength = 4096

    /// `frame` with its names cut to what a frame shows, ending in "…", and their control
    /// characters escaped (a name from a damaged or hostile file must not break a line of output
    /// or drive the terminal). Sites are told apart by their whole names all the same.
    static func shown(_ frame: Frame) -> Frame {
        var frame = frame
        frame.function = frame.function.cut(toUTF8: maximumFunctionLength).escapingControlCharacters
        frame.file = frame.file.cut(toUTF8: maximumPathLength).escapingControlCharacters
        frame.module = frame.module.cut(toUTF8: maximumPathLength).escapingControlCharacters
        frame.directory = frame.directory.cut(toUTF8: maximumPathLength)
        return frame
    }

    /// The representative frame of `id`.
    public func frame(_ id: Int32) -> Frame { frames[Int(id)] }

    /// The index in `stack` (frame ids, innermost first, never empty) of its site: the first frame
    /// of the program's own code (``LibraryFrames``).
    public func siteIndex(_ stack: [Int32]) -> Int {
        LibraryFrames.siteIndex(
            count: stack.count, isLibrary: { isLibrary[Int(stack[$0])] }, frame: { frames[Int(stack[$0])] })
    }

    /// The frame id of the site of `stack` (innermost first, never empty).
    func site(of stack: [Int32]) -> Int32 { stack[siteIndex(stack)] }

    /// The id of the site `id` belongs to when grouping by `groupBy`: itself for
    /// `lineno` and `traceback`, a coarser frame (line 0, no offset…) otherwise.
    func site(of id: Int32, by groupBy: GroupBy) -> Int32 {
        if groupBy == .lineno || groupBy == .traceback { return id }
        var table = coarse[groupBy] ?? []
        if Int(id) >= table.count {
            coarse[groupBy] = nil  // keep the array uniquely referenced while it grows
            while table.count <= Int(id) {
                table.append(intern(Self.coarsen(frames[table.count], by: groupBy)))
            }
            coarse[groupBy] = table
        }
        return table[Int(id)]
    }

    static func coarsen(_ frame: Frame, by groupBy: GroupBy) -> Frame {
        switch groupBy {
        case .lineno, .traceback:
            return frame
        case .function:
            return Frame(function: frame.function, file: frame.file, line: 0, module: frame.module)
        case .file:
            return Frame(function: "", file: frame.file, line: 0, module: frame.module)
        case .module:
            return Frame(function: "", file: "", line: 0, module: frame.module)
        }
    }
}
