import Analysis
import Dispatch
import Foundation
import SnapshotReader
import Symbolizer

/// A snapshot read and its symbolizer, before its stacks become frames.
private struct Prepared {
    var snapshot: SnapshotReader.Snapshot
    var symbolizer: Symbolizer
}

/// Reads a snapshot and symbolizes its stacks.
///
/// The symbolizer uses the frames `memtrace symbolize` embedded when the
/// snapshot has them, and otherwise reads the modules the snapshot names.
/// A progress line is drawn on a terminal when this takes more than a
/// moment; problems with modules (missing file, other build-id) are printed
/// to standard error, one line each, and the frames fall back to symbol or
/// module offsets.
///
/// `check` sees the snapshot as read, before any warning about its modules: a snapshot it
/// refuses gets its one-line error alone.
func loadTraced(
    _ path: String, table: FrameTable = FrameTable(), check: (SnapshotReader.Snapshot) throws -> Void = { _ in }
) throws -> TracedSnapshot {
    let prepared = try prepareAll([path], withBlocks: true)[0]
    try check(prepared.snapshot)
    printWarnings(of: prepared.symbolizer)
    return trace(prepared, table: table)
}

/// Loads snapshot after snapshot of one process (`watch`), without their blocks, into one
/// ``FrameTable``; unlike ``loadTraced(_:table:check:)`` nothing is kept until exit, so that a
/// long watch does not hold every snapshot it showed.
final class SnapshotSeries {
    let table = FrameTable()

    /// The snapshot at `path`, symbolized; `check` sees it as read, before its modules' warnings.
    func load(_ path: String, check: (SnapshotReader.Snapshot) throws -> Void) throws -> TracedSnapshot {
        let prepared = try prepareAll([path], withBlocks: false)[0]
        try check(prepared.snapshot)
        printWarnings(of: prepared.symbolizer)
        return TracedSnapshot(prepared.snapshot, resolver: prepared.symbolizer, table: table)
    }
}

/// Loads two snapshots for a comparison, reading and symbolizing them in
/// parallel; both share one ``FrameTable``, the new one's frames first.
func loadTracedPair(
    old: String, new: String, check: (SnapshotReader.Snapshot) throws -> Void = { _ in }
) throws -> (old: TracedSnapshot, new: TracedSnapshot) {
    // Errors in argument order: a bad OLD is reported before a bad NEW.
    let both = try prepareAll([old, new], withBlocks: true)
    let (preparedOld, preparedNew) = (both[0], both[1])
    try check(preparedOld.snapshot)
    try check(preparedNew.snapshot)
    printWarnings(of: both)
    let table = FrameTable()
    let newTraced = trace(preparedNew, table: table)
    return (trace(preparedOld, table: table), newTraced)
}

/// Prepares `paths` (`withBlocks: false` for commands that read many snapshots and want only
/// figures by stack): reads them in parallel, then gives the snapshots that name the same modules
/// (those of one process, without a change to its modules in between) one symbolizer, which
/// resolves their stacks' addresses once; in their order, and the first bad file in that order is
/// the error thrown. (A symbolizer each had read every module again for each snapshot of a
/// series, held its tables once per snapshot, and said a missing module's warning as many times.)
private func prepareAll(_ paths: [String], withBlocks: Bool) throws -> [Prepared] {
    final class Slot<Value>: @unchecked Sendable {
        var result: Result<Value, any Error>?
    }
    let read = paths.map { _ in Slot<SnapshotReader.Snapshot>() }
    DispatchQueue.concurrentPerform(iterations: paths.count) { index in
        read[index].result = Result { try SnapshotFile.read(path: paths[index], withBlocks: withBlocks) }
    }
    let snapshots = try read.map { try $0.result!.get() }
    // Snapshots with frames of their own (memtrace symbolize) keep a symbolizer each.
    var groups: [(symbolizer: Symbolizer, members: [Int])] = []
    var groupOf: [Int] = []
    for (index, snapshot) in snapshots.enumerated() {
        if snapshot.symbols == nil,
            let group = groups.firstIndex(where: {
                let first = snapshots[$0.members[0]]
                return first.symbols == nil && first.modules == snapshot.modules
            })
        {
            groups[group].members.append(index)
            groupOf.append(group)
        } else {
            groups.append((Symbolizer(snapshot: snapshot), [index]))
            groupOf.append(groups.count - 1)
        }
    }
    // Embedded symbols are a dictionary lookup each: resolving them ahead is wasted work.
    let toResolve = groups.indices.filter { snapshots[groups[$0].members[0]].symbols == nil }
    // Each symbolizer is used by one thread.
    final class Groups: @unchecked Sendable {
        let all: [(symbolizer: Symbolizer, members: [Int])]
        init(_ all: [(symbolizer: Symbolizer, members: [Int])]) { self.all = all }
    }
    let shared = Groups(groups)
    DispatchQueue.concurrentPerform(iterations: toResolve.count) { position in
        let group = shared.all[toResolve[position]]
        // In address order, with a progress line on a terminal.
        var pcs: [UInt64] = []
        for member in group.members {
            let snapshot = snapshots[member]
            for stat in snapshot.stackStats { pcs.append(contentsOf: snapshot.stacks[Int(stat.stack)].pcs) }
        }
        group.symbolizer.resolve(pcs, progress: Symbolizer.terminalProgress())
        // Of several, each closes its modules once its pcs are resolved: snapshots whose modules
        // all differ (a program that loads a library between each) held every one's files and
        // tables to the end, and ran out of file descriptors or memory (300 snapshots of a small
        // C program: 5 GB, with libc's debug information).
        if toResolve.count > 1 { group.symbolizer.closeModules() }
    }
    return snapshots.indices.map { Prepared(snapshot: snapshots[$0], symbolizer: groups[groupOf[$0]].symbolizer) }
}

/// Prints the warnings of each distinct symbolizer of `prepared` once, in their order.
private func printWarnings(of prepared: [Prepared]) {
    var seen = Set<ObjectIdentifier>()
    for item in prepared where seen.insert(ObjectIdentifier(item.symbolizer)).inserted {
        printWarnings(of: item.symbolizer)
    }
}

private func trace(_ prepared: Prepared, table: FrameTable) -> TracedSnapshot {
    let traced = TracedSnapshot(prepared.snapshot, resolver: prepared.symbolizer, table: table)
    // Freeing a million-block snapshot and the symbolizer's caches takes a tenth
    // of a second that the process's exit does for free.
    keptUntilExit.append(traced)
    keptUntilExit.append(prepared.symbolizer)
    return traced
}

/// Prints what `symbolizer` could not resolve (a module missing, without symbols…), a line
/// each whatever the snapshot names: a newline in a module path is written \\n.
func printWarnings(of symbolizer: Symbolizer) {
    for warning in symbolizer.warnings {
        let line = warning.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\\n")
        printError(line.hasPrefix("memtrace: ") ? line : "memtrace: " + line)
    }
}

/// Objects deliberately never released: the process exits right after using them.
nonisolated(unsafe) private var keptUntilExit: [Any] = []

/// Reads and symbolizes a snapshot, returning its symbolizer too, for the
/// renderers (pprof) that need the frames of every program counter.
func loadSymbolized(
    _ path: String, table: FrameTable = FrameTable()
) throws -> (
    traced: TracedSnapshot, resolver: Symbolizer
) {
    let prepared = try prepareAll([path], withBlocks: true)[0]
    printWarnings(of: prepared.symbolizer)
    return (trace(prepared, table: table), prepared.symbolizer)
}

/// Reads and symbolizes several snapshots, in parallel, sharing one ``FrameTable``
/// so that their sites compare; results are in argument order, and the first
/// bad file in that order is the error thrown. Their live blocks are left out (trend and
/// report use figures by stack).
func loadTracedMany(_ paths: [String]) throws -> [TracedSnapshot] {
    let prepared = try prepareAll(paths, withBlocks: false)
    printWarnings(of: prepared)
    let table = FrameTable()
    return prepared.map { trace($0, table: table) }
}

/// Reads several snapshots in parallel, each with a symbolizer that has
/// resolved all its stacks, for `merge` (a merged snapshot has no blocks: they are left out);
/// in argument order.
func loadResolved(_ paths: [String]) throws -> [SnapshotMerge.Input] {
    let prepared = try prepareAll(paths, withBlocks: false)
    printWarnings(of: prepared)
    return prepared.map { prepared in
        keptUntilExit.append(prepared.symbolizer)
        return SnapshotMerge.Input(snapshot: prepared.snapshot, resolver: prepared.symbolizer)
    }
}

/// The pid, the moment its process started tracing, the moment of the snapshot (CLOCK_REALTIME,
/// as the process saw it) and what triggered it that a snapshot file's header gives (offsets 24,
/// 32, 40 and 56), read without the rest of the file; nil when `path` is not a snapshot.
func snapshotOrigin(of path: String) -> (pid: UInt32, tracingStart: UInt64, taken: UInt64, trigger: UInt32)? {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    guard let header = try? handle.read(upToCount: 60), header.count == 60,
        header.prefix(8).elementsEqual("MEMTRACE".utf8)
    else { return nil }
    func integer(_ range: Range<Int>) -> UInt64 { header[range].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
    return (UInt32(integer(24..<28)), integer(32..<40), integer(40..<48), UInt32(integer(56..<60)))
}

/// A file's modification time in nanoseconds (the file system's clock), 0 when it cannot be read.
func modificationTime(_ path: String) -> UInt64 {
    var info = stat()
    guard stat(path, &info) == 0 else { return 0 }
    return UInt64(info.st_mtim.tv_sec) * 1_000_000_000 + UInt64(info.st_mtim.tv_nsec)
}
