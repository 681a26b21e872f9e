/// The contents of one snapshot file, as described in docs/snapshot-format.md.
///
/// A `Snapshot` is plain data: reading it (``SnapshotFile/read(path:)``) checks
/// every length, count and index, so code that consumes a `Snapshot` can index
/// `stacks` with any `stack` id it finds without further checks.
public struct Snapshot: Sendable {
    /// What made the tracer write a snapshot.
    public enum Trigger: UInt32, Sendable {
        case exit = 0
        case signal = 1
        case interval = 2
        case api = 3
        /// A signal ended the program (SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGALRM…); `process["signal"]` names it.
        case termination = 4
    }

    /// The fixed file header.
    public struct Header: Sendable, Equatable {
        public var version: UInt32
        public var flags: UInt32
        public var framesLimit: UInt32
        public var pid: UInt32
        public var ppid: UInt32
        /// `CLOCK_REALTIME` nanoseconds when tracing started.
        public var startTimeNs: UInt64
        /// `CLOCK_REALTIME` nanoseconds when this snapshot was taken.
        public var snapshotTimeNs: UInt64
        public var sequence: UInt64
        public var trigger: Trigger

        public var isSampled: Bool { flags & 0x1 != 0 }
        public var hasBlocks: Bool { flags & 0x2 != 0 }
        /// The tracer ran its reachability scan before writing this snapshot (`MEMTRACE_LEAKS=1`),
        /// so every block's ``Block/kind`` is meaningful.
        public var isLeakScanned: Bool { flags & SnapshotFormat.flagLeakScan != 0 }

        public init(
            version: UInt32, flags: UInt32, framesLimit: UInt32, pid: UInt32, ppid: UInt32,
            startTimeNs: UInt64, snapshotTimeNs: UInt64, sequence: UInt64, trigger: Trigger
        ) {
            self.version = version
            self.flags = flags
            self.framesLimit = framesLimit
            self.pid = pid
            self.ppid = ppid
            self.startTimeNs = startTimeNs
            self.snapshotTimeNs = snapshotTimeNs
            self.sequence = sequence
            self.trigger = trigger
        }
    }

    /// Process-wide counters (the TOTALS section).
    public struct Totals: Sendable, Equatable {
        public var liveBytes: UInt64 = 0
        public var liveBlocks: UInt64 = 0
        public var liveUsableBytes: UInt64 = 0
        public var peakBytes: UInt64 = 0
        public var peakTimeNs: UInt64 = 0
        public var allocCalls: UInt64 = 0
        public var freeCalls: UInt64 = 0
        public var reallocCalls: UInt64 = 0
        public var totalAllocBytes: UInt64 = 0
        public var tracerOverheadBytes: UInt64 = 0
        public var untrackedFrees: UInt64 = 0
        public var sampleRate: UInt64 = 0
        public var stackCount: UInt64 = 0
        public var truncatedStacks: UInt64 = 0
        public var lostAllocations: UInt64 = 0
        /// Blocks the tracer found written one byte past their end (0 in files from before it
        /// looked): a lower bound, see docs/tracer.md.
        public var overrunBlocks: UInt64 = 0
        /// Blocks released otherwise than allocated (0 in files from before the tracer looked):
        /// the MISMATCHES section lists them by stacks.
        public var mismatchBlocks: UInt64 = 0

        public init() {}
    }

    /// A `PT_LOAD` segment of a loaded module, at its runtime address.
    public struct Segment: Sendable, Equatable {
        public var start: UInt64
        public var size: UInt64
        public var fileOffset: UInt64
        /// ELF `p_flags`: 1 execute, 2 write, 4 read.
        public var flags: UInt32

        public init(start: UInt64, size: UInt64, fileOffset: UInt64, flags: UInt32) {
            self.start = start
            self.size = size
            self.fileOffset = fileOffset
            self.flags = flags
        }

        public func contains(_ address: UInt64) -> Bool {
            address >= start && address - start < size
        }
    }

    /// A loaded ELF object (executable, shared library, the vDSO).
    public struct Module: Sendable, Equatable {
        public var path: String
        /// Raw bytes of the GNU build-id note; empty when the module has none.
        public var buildID: [UInt8]
        public var loadBias: UInt64
        public var segments: [Segment]

        public init(path: String, buildID: [UInt8], loadBias: UInt64, segments: [Segment]) {
            self.path = path
            self.buildID = buildID
            self.loadBias = loadBias
            self.segments = segments
        }

        /// The build-id as lowercase hex, as `file(1)` and /usr/lib/debug/.build-id show it.
        public var buildIDHex: String {
            buildID.map { byte in
                let digits = Array("0123456789abcdef")
                return String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
            }.joined()
        }
    }

    /// One interned call stack; `pcs[0]` is the innermost frame (the allocator's caller).
    public struct Stack: Sendable, Equatable {
        public var pcs: [UInt64]
        /// The real depth; larger than `pcs.count` when the stack was truncated.
        public var trueDepth: UInt32

        public init(pcs: [UInt64], trueDepth: UInt32) {
            self.pcs = pcs
            self.trueDepth = trueDepth
        }
    }

    /// Per-stack aggregates (the STACK_STATS section).
    public struct StackStat: Sendable, Equatable {
        public var stack: UInt32
        public var liveBytes: UInt64
        public var liveCount: UInt64
        public var totalBytes: UInt64
        public var totalCount: UInt64
        /// This stack's live bytes at the moment of the global peak.
        public var peakBytes: UInt64
        public var peakCount: UInt64
        /// Blocks of this stack released by `free` in their thread before it allocated anything else,
        /// and their bytes (the TEMPORARY section; 0 when the snapshot does not count them, see
        /// ``Snapshot/countsTemporary``).
        public var temporaryBytes: UInt64
        public var temporaryCount: UInt64
        /// Blocks of this stack the tracer found written one byte past their end, and their
        /// bytes (the OVERRUNS section: a lower bound, see docs/tracer.md).
        public var overrunBytes: UInt64
        public var overrunCount: UInt64

        public init(
            stack: UInt32, liveBytes: UInt64, liveCount: UInt64, totalBytes: UInt64, totalCount: UInt64,
            peakBytes: UInt64, peakCount: UInt64, temporaryBytes: UInt64 = 0, temporaryCount: UInt64 = 0,
            overrunBytes: UInt64 = 0, overrunCount: UInt64 = 0
        ) {
            self.stack = stack
            self.liveBytes = liveBytes
            self.liveCount = liveCount
            self.totalBytes = totalBytes
            self.totalCount = totalCount
            self.peakBytes = peakBytes
            self.peakCount = peakCount
            self.temporaryBytes = temporaryBytes
            self.temporaryCount = temporaryCount
            self.overrunBytes = overrunBytes
            self.overrunCount = overrunCount
        }
    }

    /// One live heap block (the BLOCKS section).
    public struct Block: Sendable, Equatable {
        /// How the tracer's reachability scan classified a block (BLOCKS flags bits 1–2), in
        /// valgrind memcheck's terms.
        public enum Kind: UInt32, Sendable, CaseIterable {
            /// A pointer to its start exists in a root or in a reachable block.
            case reachable = 0
            /// Nothing points to it ("definitely lost").
            case definite = 1
            /// Only leaked blocks point to it ("indirectly lost").
            case indirect = 2
            /// Only pointers into its middle reach it ("possibly lost").
            case possible = 3
        }

        public var address: UInt64
        public var size: UInt64
        public var stack: UInt32
        public var flags: UInt32

        /// Marked by the program as intentionally kept.
        public var isIgnored: Bool { flags & 0x1 != 0 }

        /// The scan's verdict; only meaningful when the snapshot's ``Header/isLeakScanned`` is set
        /// (otherwise the bits are 0: ``Kind/reachable``).
        public var kind: Kind { Kind(rawValue: (flags >> 1) & 0x3)! }

        public init(address: UInt64, size: UInt64, stack: UInt32, flags: UInt32) {
            self.address = address
            self.size = size
            self.stack = stack
            self.flags = flags
        }
    }

    /// The allocator's own statistics (the ALLOCATOR section).
    public struct AllocatorStats: Sendable, Equatable {
        public enum Kind: UInt32, Sendable {
            case unknown = 0
            case glibc = 1
            case jemalloc = 2
        }
        public var kind: Kind
        /// Statistic name (a mallctl name under jemalloc, a mallinfo2 field under glibc) and value.
        public var values: [(name: String, value: UInt64)]

        public init(kind: Kind, values: [(name: String, value: UInt64)]) {
            self.kind = kind
            self.values = values
        }

        public subscript(name: String) -> UInt64? {
            values.first { $0.name == name }?.value
        }

        public static func == (lhs: AllocatorStats, rhs: AllocatorStats) -> Bool {
            lhs.kind == rhs.kind && lhs.values.elementsEqual(rhs.values) { $0 == $1 }
        }
    }

    /// One source-level frame stored in the SYMBOLS section.
    ///
    /// The same information as the Symbolizer's `Frame`, kept here so that the
    /// reader does not depend on the symbolizer.
    public struct SymbolFrame: Sendable, Hashable {
        /// Demangled function name; empty when unknown.
        public var function: String
        /// Source file path; empty when unknown.
        public var file: String
        /// Source line; 0 when unknown. Stored as a `u32`.
        public var line: Int
        /// Path of the ELF module holding the code.
        public var module: String
        /// Offset of the program counter from the symbol's start, when only the symbol is known.
        public var offset: UInt64?
        /// True when this frame was inlined into the next one.
        public var isInlined: Bool
        /// The directory a relative `file` is relative to (the compile unit's `DW_AT_comp_dir`);
        /// empty when unknown.
        public var directory: String

        /// A frame as the SYMBOLS section stores it; see the properties for each field.
        public init(
            function: String, file: String, line: Int, module: String, offset: UInt64? = nil,
            isInlined: Bool = false, directory: String = ""
        ) {
            self.function = function
            self.file = file
            self.line = line
            self.module = module
            self.offset = offset
            self.isInlined = isInlined
            self.directory = directory
        }
    }

    /// One point of the TIMELINE section: the process's memory at one moment.
    public struct TimelinePoint: Sendable, Equatable {
        /// `CLOCK_REALTIME` nanoseconds.
        public var timeNs: UInt64
        /// Live requested bytes at that moment (an estimate in sampled snapshots).
        public var currentBytes: UInt64
        /// Highest live bytes seen so far.
        public var peakBytes: UInt64
        /// Resident set size of the process.
        public var rssBytes: UInt64

        /// A point with the given figures.
        public init(timeNs: UInt64, currentBytes: UInt64, peakBytes: UInt64, rssBytes: UInt64) {
            self.timeNs = timeNs
            self.currentBytes = currentBytes
            self.peakBytes = peakBytes
            self.rssBytes = rssBytes
        }
    }

    /// Allocations of one size class: every allocation of the run so far whose requested size
    /// was 2^class to 2^(class+1) - 1 bytes (class 0: 0 and 1 byte), estimated when sampled.
    public struct SizeClass: Sendable, Equatable {
        public var count: UInt64
        public var bytes: UInt64

        public init(count: UInt64, bytes: UInt64) {
            self.count = count
            self.bytes = bytes
        }

        /// The smallest and largest size of class `index`.
        public static func range(_ index: Int) -> ClosedRange<UInt64> {
            let low = UInt64(1) << UInt64(index)
            return (index == 0 ? 0 : low)...(low - 1 + low)  // 2^(index+1) - 1, without overflow at 63
        }
    }

    /// Blocks released otherwise than allocated, by the stacks of their allocation and release
    /// (the MISMATCHES section): valgrind memcheck's "Mismatched free() / delete / delete []";
    /// or released by a sized `delete` that named another size than the block's (a class
    /// deleted through a base without a virtual destructor), when ``allocatedBy`` and
    /// ``releasedBy`` match and ``namedSize`` is that size.
    public struct Mismatch: Sendable, Equatable {
        /// How a block was allocated.
        public enum Allocation: UInt32, Sendable, CaseIterable {
            /// By malloc, calloc, realloc or an aligned allocation function.
            case malloc = 0
            /// By operator new.
            case new = 1
            /// By operator new[].
            case newArray = 2

            /// As C and C++ spell it: `malloc`, `new`, `new[]`.
            public var name: String { ["malloc", "new", "new[]"][Int(rawValue)] }
        }
        /// How a block was released.
        public enum Release: UInt32, Sendable, CaseIterable {
            case free = 0
            case delete = 1
            case deleteArray = 2
            case realloc = 3

            /// As C and C++ spell it: `free`, `delete`, `delete[]`, `realloc`.
            public var name: String { ["free", "delete", "delete[]", "realloc"][Int(rawValue)] }
        }

        /// Index into ``Snapshot/stacks`` of the allocation's stack.
        public var allocStack: UInt32
        /// Index into ``Snapshot/stacks`` of the release's stack (it may have no STACK_STATS record).
        public var releaseStack: UInt32
        public var allocatedBy: Allocation
        public var releasedBy: Release
        public var count: UInt64
        public var bytes: UInt64
        /// What a sized `delete` said the block held, when that was what did not match; 0 when
        /// the ways differ.
        public var namedSize: UInt64

        public init(
            allocStack: UInt32, releaseStack: UInt32, allocatedBy: Allocation, releasedBy: Release, count: UInt64,
            bytes: UInt64, namedSize: UInt64 = 0
        ) {
            self.allocStack = allocStack
            self.releaseStack = releaseStack
            self.allocatedBy = allocatedBy
            self.releasedBy = releasedBy
            self.count = count
            self.bytes = bytes
            self.namedSize = namedSize
        }

        /// How the blocks were released, as a report says it: `delete`, or `delete of 16 bytes`
        /// for a sized delete that named the wrong size.
        public var releasedHow: String { Self.describe(releasedBy, namedSize: namedSize) }

        /// `delete`, or `delete of 16 bytes` for a sized delete that named the wrong size.
        public static func describe(_ release: Release, namedSize: UInt64) -> String {
            namedSize == 0 ? release.name : "\(release.name) of \(namedSize) bytes"
        }
    }

    /// A section this reader does not know, kept byte for byte so that rewriting a snapshot
    /// (`memtrace symbolize`) does not lose what a newer tracer wrote.
    public struct RawSection: Sendable, Equatable {
        /// The section's tag.
        public var tag: UInt32
        /// Its payload, as read.
        public var payload: [UInt8]

        /// A section with `tag` and `payload`.
        public init(tag: UInt32, payload: [UInt8]) {
            self.tag = tag
            self.payload = payload
        }
    }

    /// The file this snapshot was read from.
    public var path: String
    public var header: Header
    /// PROCESS section: `exe`, `cmdline` (NUL-separated), `cwd`, `output`.
    public var process: [String: String]
    public var totals: Totals
    public var modules: [Module]
    /// Indexed by stack id.
    public var stacks: [Stack]
    public var stackStats: [StackStat]
    /// Live blocks, when the snapshot carries them (`header.hasBlocks`).
    public var blocks: [Block]?
    public var allocator: AllocatorStats?
    /// Frames symbolized ahead of time, by program counter (the optional SYMBOLS section).
    ///
    /// `memtrace symbolize` fills this in so that a snapshot can be analysed on a
    /// machine that does not hold the traced program's binaries. Every list is
    /// non-empty, innermost (inlined) frame first.
    public var symbols: [UInt64: [SymbolFrame]]?
    /// Live bytes and RSS over time, oldest first (the optional TIMELINE section).
    public var timeline: [TimelinePoint]?
    /// Every allocation so far by size class, class 0 first (the optional SIZES section; nil
    /// from a tracer that did not count them).
    public var sizeClasses: [SizeClass]?
    /// Blocks released otherwise than allocated, grouped as the tracer kept them (the optional
    /// MISMATCHES section; empty when it found none). ``Totals/mismatchBlocks`` counts them all.
    public var mismatches: [Mismatch]
    /// Sections with tags this reader does not know, in file order; written back unchanged.
    public var unknownSections: [RawSection]
    /// The snapshot counts temporary allocations (it has a TEMPORARY section: the tracer writes
    /// one when every allocation is recorded, not when sampling), so each
    /// ``StackStat/temporaryCount`` is a count, not a blank.
    public var countsTemporary: Bool

    public init(
        path: String, header: Header, process: [String: String], totals: Totals, modules: [Module],
        stacks: [Stack], stackStats: [StackStat], blocks: [Block]?, allocator: AllocatorStats?,
        symbols: [UInt64: [SymbolFrame]]? = nil, timeline: [TimelinePoint]? = nil,
        sizeClasses: [SizeClass]? = nil, mismatches: [Mismatch] = [], unknownSections: [RawSection] = [],
        countsTemporary: Bool = false
    ) {
        self.path = path
        self.header = header
        self.process = process
        self.totals = totals
        self.modules = modules
        self.stacks = stacks
        self.stackStats = stackStats
        self.blocks = blocks
        self.allocator = allocator
        self.symbols = symbols
        self.timeline = timeline
        self.sizeClasses = sizeClasses
        self.mismatches = mismatches
        self.unknownSections = unknownSections
        self.countsTemporary = countsTemporary
    }

    /// Temporary allocations of every stack added up (0 when the snapshot does not count them).
    public var temporaryTotal: (count: UInt64, bytes: UInt64) {
        stackStats.reduce((count: UInt64(0), bytes: UInt64(0))) {
            ($0.count &+ $1.temporaryCount, $0.bytes &+ $1.temporaryBytes)
        }
    }

    /// The module whose segments contain `pc`, if any.
    public func module(containing pc: UInt64) -> Module? {
        modules.first { $0.segments.contains { $0.contains(pc) } }
    }
}

extension Snapshot: Equatable {}
