import SnapshotReader
import Symbolizer

/// How the tracer's reachability scan classified a block; see ``Snapshot/Block/Kind``.
public typealias LeakKind = Snapshot.Block.Kind

extension Snapshot.Block.Kind {
    /// The name used on the command line and in JSON: `definite`, `indirect`, `possible`, `reachable`.
    public var name: String {
        switch self {
        case .definite: "definite"
        case .indirect: "indirect"
        case .possible: "possible"
        case .reachable: "reachable"
        }
    }

    /// The kind called `name` (see ``name``), or `nil`.
    public init?(name: String) {
        guard let kind = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = kind
    }

    /// valgrind memcheck's words for the kind: `definitely lost`, `indirectly lost`,
    /// `possibly lost`, `still reachable`.
    public var memcheckPhrase: String {
        switch self {
        case .definite: "definitely lost"
        case .indirect: "indirectly lost"
        case .possible: "possibly lost"
        case .reachable: "still reachable"
        }
    }

    /// The kinds a leak check fails on unless told otherwise, as LeakSanitizer and memcheck's
    /// `--errors-for-leak-kinds` default: definite and indirect.
    public static let checkedByDefault: Set<Self> = [.definite, .indirect]

    /// Every kind in report order: definite, indirect, possible, reachable.
    public static let reportOrder: [Self] = [.definite, .indirect, .possible, .reachable]

    /// The position in ``reportOrder``.
    var order: Int {
        switch self {
        case .definite: 0
        case .indirect: 1
        case .possible: 2
        case .reachable: 3
        }
    }
}

/// Bytes and blocks.
public struct LeakFigures: Sendable, Equatable {
    /// Requested bytes.
    public var size: Int64
    /// Blocks.
    public var count: Int64

    /// Figures of `size` bytes in `count` blocks.
    public init(size: Int64 = 0, count: Int64 = 0) {
        self.size = size
        self.count = count
    }

    static func + (a: LeakFigures, b: LeakFigures) -> LeakFigures {
        LeakFigures(size: a.size &+ b.size, count: a.count &+ b.count)  // a damaged file's can be anything
    }

    static func += (a: inout LeakFigures, b: LeakFigures) { a = a + b }
}

/// The blocks of one kind allocated at one stack: a "loss record" in memcheck's terms.
public struct LeakRecord: Sendable, Equatable {
    /// What the scan found.
    public var kind: LeakKind
    /// The allocation stack, innermost first, allocator frames stripped.
    public var frames: [Frame]
    /// The blocks' own requested bytes (never those of blocks they point to).
    public var size: Int64
    /// The number of blocks.
    public var count: Int64

    /// Creates a record.
    public init(kind: LeakKind, frames: [Frame], size: Int64, count: Int64) {
        self.kind = kind
        self.frames = frames
        self.size = size
        self.count = count
    }
}

/// Blocks released otherwise than they were allocated, from one allocation stack and one
/// release stack (valgrind memcheck's "Mismatched free() / delete / delete []"), or by a sized
/// `delete` naming another size (``namedSize``).
public struct MismatchRecord: Sendable, Equatable {
    /// How the blocks were allocated.
    public var allocatedBy: Snapshot.Mismatch.Allocation
    /// How the program released them.
    public var releasedBy: Snapshot.Mismatch.Release
    /// What a sized `delete` said they held, when that was what did not match; else 0.
    public var namedSize: UInt64
    /// The allocation stack, innermost first, allocator frames stripped.
    public var allocation: [Frame]
    /// The release stack, innermost first: the call of free, delete or realloc first.
    public var release: [Frame]
    /// The blocks' requested bytes.
    public var size: Int64
    /// The number of blocks.
    public var count: Int64

    /// Creates a record.
    public init(
        allocatedBy: Snapshot.Mismatch.Allocation, releasedBy: Snapshot.Mismatch.Release, namedSize: UInt64 = 0,
        allocation: [Frame], release: [Frame], size: Int64, count: Int64
    ) {
        self.allocatedBy = allocatedBy
        self.releasedBy = releasedBy
        self.namedSize = namedSize
        self.allocation = allocation
        self.release = release
        self.size = size
        self.count = count
    }

    /// How the blocks were released, as a report says it: `delete`, or `delete of 16 bytes`.
    public var releasedHow: String { Snapshot.Mismatch.describe(releasedBy, namedSize: namedSize) }

    /// Groups a snapshot's mismatched releases by both stacks' frames and both ways, most
    /// blocks first.
    static func records(_ traced: TracedSnapshot) -> [MismatchRecord] {
        struct Key: Hashable {
            var allocatedBy: Snapshot.Mismatch.Allocation, releasedBy: Snapshot.Mismatch.Release
            var namedSize: UInt64
            var allocation: [Int32], release: [Int32]
        }
        var groups: [Key: LeakFigures] = [:]
        for mismatch in traced.snapshot.mismatches {
            let key = Key(
                allocatedBy: mismatch.allocatedBy, releasedBy: mismatch.releasedBy, namedSize: mismatch.namedSize,
                allocation: traced.mismatchFrames[mismatch.allocStack]!,
                release: traced.mismatchFrames[mismatch.releaseStack]!)
            groups[key, default: LeakFigures()] += LeakFigures(
                size: Int64(clamping: mismatch.bytes), count: Int64(clamping: mismatch.count))
        }
        return groups.map { key, figures in
            MismatchRecord(
                allocatedBy: key.allocatedBy, releasedBy: key.releasedBy, namedSize: key.namedSize,
                allocation: key.allocation.map { traced.table.frame($0) },
                release: key.release.map { traced.table.frame($0) }, size: figures.size, count: figures.count)
        }
        .sorted { a, b in
            if a.count != b.count { return a.count > b.count }
            if a.size != b.size { return a.size > b.size }
            if a.allocation != b.allocation { return TracedSnapshot.framesDescending(a.allocation, b.allocation) }
            return TracedSnapshot.framesDescending(a.release, b.release)
        }
    }
}

/// What one suppression rule hid, by kind.
public struct SuppressionUse: Sendable, Equatable {
    /// The rule.
    public var suppression: LeakSuppression
    /// Hidden bytes and blocks, per kind.
    public var byKind: [LeakKind: LeakFigures]

    /// Creates a use of `suppression`.
    public init(suppression: LeakSuppression, byKind: [LeakKind: LeakFigures]) {
        self.suppression = suppression
        self.byKind = byKind
    }

    /// The bytes and blocks of `kinds` the rule hid.
    public func hidden(kinds: Set<LeakKind>) -> LeakFigures {
        kinds.reduce(LeakFigures()) { $0 + (byKind[$1] ?? LeakFigures()) }
    }
}

/// The leak report of one process: its live blocks at the end of a leak-scanned snapshot,
/// grouped by allocation stack and kind, biggest first.
///
/// The tracer classifies each block (``LeakKind``) when it writes the snapshot under
/// `MEMTRACE_LEAKS=1`; this groups blocks with the same kind and symbolized stack into
/// ``LeakRecord``s whose size and count are the blocks' own. Blocks the program marked with
/// `memtrace_ignore()` are counted in ``ignored`` and nowhere else. A block whose stack
/// matches a ``LeakSuppression`` is counted in that rule's ``SuppressionUse`` (the first rule
/// that matches, in the order given) and in no record.
///
/// The snapshot holds each block's address and size but not its contents, so this cannot tell
/// which indirectly lost blocks hang off which definitely lost one: memcheck's
/// "96 (32 direct, 64 indirect) bytes" is given for the whole process (``lost``), and each
/// record carries its own bytes only.
public struct LeakReport: Sendable {
    /// The snapshot the report is about.
    public var snapshot: Snapshot
    /// Every unsuppressed group of blocks, of every kind, biggest first (by size, count, then
    /// kind in the order definite, indirect, possible, reachable).
    public var records: [LeakRecord]
    /// Unsuppressed bytes and blocks per kind (every kind present, zero when none).
    public var totals: [LeakKind: LeakFigures]
    /// The rules that hid something, biggest first.
    public var suppressions: [SuppressionUse]
    /// Blocks marked as intentionally kept (`memtrace_ignore`).
    public var ignored: LeakFigures
    /// The blocks the process wrote one byte past the end of (heap overruns: the tracer finds
    /// them when such a block is released or a snapshot reads its record), by whole allocation
    /// stack, most blocks first. Leak suppressions do not apply to them.
    public var overruns: [Statistic]
    /// Every overrun block the tracer found: ``overruns`` adds up to less when it found them at
    /// more stacks than it keeps (16).
    public var overrunBlocks: Int64
    /// The blocks the process released otherwise than it allocated them (a block of new
    /// released by free or delete[], of malloc by delete…), by both stacks, most blocks first.
    /// Leak suppressions do not apply to them.
    public var mismatches: [MismatchRecord]
    /// Every mismatched release the tracer found: ``mismatches`` adds up to less when it found
    /// them at more pairs of stacks than it keeps (16).
    public var mismatchBlocks: Int64

    /// Groups the blocks of a leak-scanned snapshot.
    ///
    /// - Parameters:
    ///   - traced: the symbolized snapshot; its header must have ``Snapshot/Header/isLeakScanned``.
    ///   - suppressions: rules tried in order against each block's stack; the built-in ones by default.
    /// - Throws: ``AnalysisError`` when the snapshot carries no blocks or was not scanned.
    public init(_ traced: TracedSnapshot, suppressions rules: [LeakSuppression] = LeakSuppression.builtIn) throws {
        let snapshot = traced.snapshot
        guard let blocks = snapshot.blocks else {
            throw AnalysisError(
                "\(snapshot.path): the snapshot has no BLOCKS section (written with MEMTRACE_BLOCKS=0): no leak report")
        }
        guard snapshot.header.isLeakScanned else {
            throw AnalysisError(
                "\(snapshot.path): the tracer did not scan this snapshot for leaks: run the program with MEMTRACE_LEAKS=1 (memtrace check does), with a libtrace.so that supports it"
            )
        }
        self.snapshot = snapshot
        let table = traced.table
        var traceOfStack: [UInt32: Int] = [:]
        for (index, trace) in traced.traces.enumerated() { traceOfStack[trace.stat.stack] = index }
        let unknown = table.intern(Frame(function: "", file: "", line: 0, module: ""))

        struct Key: Hashable {
            var kind: LeakKind
            var frames: [Int32]
        }
        var groups: [Key: LeakFigures] = [:]
        // Per stack id: the index of the first matching rule, or -1; decided once per stack.
        var ruleOfStack: [UInt32: Int] = [:]
        var matcher = SuppressionMatcher(rules, table: table)
        var hidden: [[LeakKind: LeakFigures]] = Array(repeating: [:], count: rules.count)
        var totals: [LeakKind: LeakFigures] = [:]
        for kind in LeakKind.allCases { totals[kind] = LeakFigures() }
        var ignored = LeakFigures()
        for block in blocks {
            let figures = LeakFigures(size: Int64(clamping: block.size), count: 1)
            if block.isIgnored {
                ignored += figures
                continue
            }
            let frames = traceOfStack[block.stack].map { traced.traces[$0].frames } ?? [unknown]
            let rule: Int
            if let known = ruleOfStack[block.stack] {
                rule = known
            } else {
                rule = matcher.firstRule(frames) ?? -1
                ruleOfStack[block.stack] = rule
            }
            if rule >= 0 {
                hidden[rule][block.kind, default: LeakFigures()] += figures
                continue
            }
            totals[block.kind]! += figures
            groups[Key(kind: block.kind, frames: frames), default: LeakFigures()] += figures
        }
        records = groups.map { key, value in
            LeakRecord(kind: key.kind, frames: key.frames.map { table.frame($0) }, size: value.size, count: value.count)
        }
        records.sort(by: Self.biggestFirst)
        var overrunGroups: [[Int32]: LeakFigures] = [:]
        for trace in traced.traces where trace.stat.overrunCount != 0 {
            overrunGroups[trace.frames, default: LeakFigures()] += LeakFigures(
                size: Int64(clamping: trace.stat.overrunBytes), count: Int64(clamping: trace.stat.overrunCount))
        }
        overruns = overrunGroups.map { frames, figures in
            Statistic(frames: frames.map { table.frame($0) }, size: figures.size, count: figures.count)
        }
        .sorted { a, b in
            if a.count != b.count { return a.count > b.count }
            if a.size != b.size { return a.size > b.size }
            return TracedSnapshot.framesDescending(a.frames, b.frames)
        }
        let listed = overruns.reduce(Int64(0)) { $0 &+ $1.count }
        overrunBlocks = max(Int64(clamping: snapshot.totals.overrunBlocks), listed)
        mismatches = MismatchRecord.records(traced)
        mismatchBlocks = max(
            Int64(clamping: snapshot.totals.mismatchBlocks), mismatches.reduce(Int64(0)) { $0 &+ $1.count })
        self.totals = totals
        self.ignored = ignored
        suppressions = zip(rules, hidden).compactMap { rule, byKind in
            byKind.isEmpty ? nil : SuppressionUse(suppression: rule, byKind: byKind)
        }
        .sorted { a, b in
            let (x, y) = (a.hidden(kinds: Set(LeakKind.allCases)), b.hidden(kinds: Set(LeakKind.allCases)))
            return x.size != y.size ? x.size > y.size : x.count > y.count
        }
    }

    /// The records of `kinds`, biggest first.
    public func records(kinds: Set<LeakKind>) -> [LeakRecord] {
        records.filter { kinds.contains($0.kind) }
    }

    /// Unsuppressed bytes and blocks of `kinds` together.
    public func figures(kinds: Set<LeakKind>) -> LeakFigures {
        kinds.reduce(LeakFigures()) { $0 + (totals[$1] ?? LeakFigures()) }
    }

    /// Bytes and blocks that suppressions hid, of `kinds`.
    public func suppressed(kinds: Set<LeakKind>) -> LeakFigures {
        suppressions.reduce(LeakFigures()) { $0 + $1.hidden(kinds: kinds) }
    }

    /// memcheck's split of what is lost: definitely lost blocks are "direct", indirectly lost
    /// blocks "indirect", for the whole process.
    public var lost: (direct: LeakFigures, indirect: LeakFigures) {
        (totals[.definite] ?? LeakFigures(), totals[.indirect] ?? LeakFigures())
    }

    static func biggestFirst(_ a: LeakRecord, _ b: LeakRecord) -> Bool {
        if a.size != b.size { return a.size > b.size }
        if a.count != b.count { return a.count > b.count }
        if a.kind != b.kind { return a.kind.order < b.kind.order }
        return TracedSnapshot.framesDescending(a.frames, b.frames)
    }
}

/// The leak check's verdict over the reports of every process of one run.
public struct LeakVerdict: Sendable, Equatable {
    /// The kinds that count.
    public var kinds: Set<LeakKind>
    /// The most bytes of those kinds that may remain; more fails the check.
    public var maxLeak: Int64
    /// Bytes and blocks of `kinds` over all reports, unsuppressed.
    public var leaked: LeakFigures
    /// Blocks written one byte past their end, over all reports.
    public var overrunBlocks: Int64
    /// Whether overruns fail the check (as memcheck's errors do) or are only reported.
    public var failsOnOverruns: Bool
    /// Blocks released otherwise than allocated, over all reports.
    public var mismatchBlocks: Int64
    /// Whether mismatched releases fail the check or are only reported.
    public var failsOnMismatches: Bool

    /// Adds up the leaks of `kinds`, the heap overruns and the mismatched releases over
    /// `reports`, and compares the leaks with `maxLeak`.
    public init(
        _ reports: [LeakReport], kinds: Set<LeakKind> = LeakKind.checkedByDefault, maxLeak: Int64 = 0,
        failsOnOverruns: Bool = true, failsOnMismatches: Bool = true
    ) {
        self.kinds = kinds
        self.maxLeak = maxLeak
        self.failsOnOverruns = failsOnOverruns
        self.failsOnMismatches = failsOnMismatches
        leaked = reports.reduce(LeakFigures()) { $0 + $1.figures(kinds: kinds) }
        overrunBlocks = reports.reduce(Int64(0)) { $0 &+ $1.overrunBlocks }
        mismatchBlocks = reports.reduce(Int64(0)) { $0 &+ $1.mismatchBlocks }
    }

    /// True when more than ``maxLeak`` bytes leaked (any leaked block fails a limit of 0, even
    /// one of 0 bytes).
    public var leaksFailed: Bool {
        maxLeak == 0 ? leaked.count > 0 : leaked.size > maxLeak
    }

    /// True when the leaks fail the check, or a heap overrun or a mismatched release does.
    public var failed: Bool {
        leaksFailed || (failsOnOverruns && overrunBlocks > 0) || (failsOnMismatches && mismatchBlocks > 0)
    }
}
