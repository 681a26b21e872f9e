import Analysis
import Foundation
import SnapshotReader
import Symbolizer

/// A resolver backed by a table: tests decide what every address means.
struct TableResolver: FrameResolver {
    var table: [UInt64: [Frame]]

    func frames(for pc: UInt64) -> [Frame] {
        table[pc] ?? [Frame(function: "", file: "", line: 0, module: "/unknown", offset: pc)]
    }
}

/// A frame of the traced program (module `/bin/app`).
func app(_ function: String, _ file: String, _ line: Int, module: String = "/bin/app") -> Frame {
    Frame(function: function, file: file, line: line, module: module)
}

/// One stack of a hand-made snapshot with its live figures.
struct StackSpec {
    var pcs: [UInt64]
    var size: UInt64
    var count: UInt64
    var peakSize: UInt64 = 0
    var peakCount: UInt64 = 0
    /// Everything allocated; nil: the live figures (nothing released yet).
    var totalSize: UInt64? = nil
    var totalCount: UInt64? = nil
}

/// A snapshot holding `stacks`, otherwise empty.
func makeSnapshot(
    _ stacks: [StackSpec], path: String = "test.snap", flags: UInt32 = 0,
    allocator: Snapshot.AllocatorStats? = nil, totals: Snapshot.Totals = Snapshot.Totals()
) -> Snapshot {
    let header = Snapshot.Header(
        version: 2, flags: flags, framesLimit: 64, pid: 42, ppid: 1, startTimeNs: 1_000_000_000,
        snapshotTimeNs: 3_500_000_000, sequence: 0, trigger: .exit)
    var stats: [Snapshot.StackStat] = []
    for (index, spec) in stacks.enumerated() {
        stats.append(
            Snapshot.StackStat(
                stack: UInt32(index), liveBytes: spec.size, liveCount: spec.count,
                totalBytes: spec.totalSize ?? spec.size, totalCount: spec.totalCount ?? spec.count,
                peakBytes: spec.peakSize, peakCount: spec.peakCount))
    }
    return Snapshot(
        path: path, header: header, process: ["exe": "/bin/app", "cmdline": "app\0--flag\0"],
        totals: totals,
        modules: [],
        stacks: stacks.map { Snapshot.Stack(pcs: $0.pcs, trueDepth: UInt32($0.pcs.count)) },
        stackStats: stats, blocks: nil, allocator: allocator)
}

/// Runs Python's tracemalloc helpers on `script` (which may use `fs(size, sign)`
/// for `tracemalloc._format_size`) and returns its output lines.
func python(_ script: String) throws -> [String] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    process.arguments = ["-c", "import tracemalloc\nfs = tracemalloc._format_size\n" + script]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).split(
        separator: "\n", omittingEmptySubsequences: false
    )
    .dropLast().map(String.init)
}

var pythonAvailable: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") }
