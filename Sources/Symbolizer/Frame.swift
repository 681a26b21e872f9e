/// One source-level frame: what a program counter means to a person.
///
/// A single program counter can stand for several frames when the compiler
/// inlined calls: the innermost (inlined) frame comes first, the function it
/// was inlined into last.
public struct Frame: Hashable, Sendable {
    /// Demangled function name; empty when unknown.
    public var function: String
    /// Source file path as recorded in DWARF; empty when unknown.
    public var file: String
    /// Source line; 0 when unknown.
    public var line: Int
    /// Path of the ELF module holding the code.
    public var module: String
    /// Offset of the program counter from the symbol's start, when only the symbol is known.
    public var offset: UInt64?
    /// True when this frame was inlined into the next one.
    public var isInlined: Bool
    /// The directory a relative `file` is relative to: the compile unit's `DW_AT_comp_dir`; empty
    /// when unknown. Where to read the source, not part of what the frame is: two frames that
    /// differ only here are equal.
    public var directory: String

    public init(
        function: String, file: String, line: Int, module: String, offset: UInt64? = nil, isInlined: Bool = false,
        directory: String = ""
    ) {
        self.function = function
        self.file = file
        self.line = line
        self.module = module
        self.offset = offset
        self.isInlined = isInlined
        self.directory = directory
    }

    public static func == (a: Frame, b: Frame) -> Bool {
        a.function == b.function && a.file == b.file && a.line == b.line && a.module == b.module
            && a.offset == b.offset && a.isInlined == b.isInlined
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(function)
        hasher.combine(file)
        hasher.combine(line)
        hasher.combine(module)
        hasher.combine(offset)
        hasher.combine(isInlined)
    }

    /// Where the source file is: `file` itself when absolute, else under `directory` (or the
    /// current directory when that is unknown); nil when the frame has no file.
    public var sourcePath: String? {
        if file.isEmpty { return nil }
        if file.hasPrefix("/") || directory.isEmpty { return file }
        return directory.hasSuffix("/") ? directory + file : directory + "/" + file
    }
}

/// Anything that can turn a program counter of a snapshot into frames.
///
/// ``Symbolizer`` is the real implementation over libdw; tests may provide
/// their own table.
public protocol FrameResolver {
    /// The frames for `pc`, innermost first; never empty (an unknown address
    /// still yields a frame naming its module and offset, or the raw address).
    func frames(for pc: UInt64) -> [Frame]
}
