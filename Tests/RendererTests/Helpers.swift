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
func app(_ function: String, _ line: Int, file: String = "app.c", inlined: Bool = false) -> Frame {
    Frame(function: function, file: file, line: line, module: "/bin/app", isInlined: inlined)
}

/// One stack of a hand-made snapshot: its pcs (innermost first) and figures.
struct StackSpec {
    var pcs: [UInt64]
    var live: UInt64
    var liveCount: UInt64
    var total: UInt64 = 0
    var totalCount: UInt64 = 0
    var peak: UInt64 = 0
    var peakCount: UInt64 = 0
}

/// The module every test pc lies in: `/bin/app`, text at 0x400000-0x500000.
let appModule = Snapshot.Module(
    path: "/bin/app", buildID: [0xde, 0xad, 0xbe, 0xef], loadBias: 0x400000,
    segments: [
        Snapshot.Segment(start: 0x400000, size: 0x100000, fileOffset: 0, flags: 5),
        Snapshot.Segment(start: 0x600000, size: 0x1000, fileOffset: 0x100000, flags: 6),
    ])

/// A snapshot holding `stacks`, taken `seconds` after a start at t=1 s.
func makeSnapshot(
    _ stacks: [StackSpec], path: String = "test.snap", seconds: Double = 2.5, sequence: UInt64 = 0,
    pid: UInt32 = 42, timeline: [Snapshot.TimelinePoint]? = nil
) -> Snapshot {
    let start: UInt64 = 1_000_000_000
    let header = Snapshot.Header(
        version: 2, flags: 0, framesLimit: 64, pid: pid, ppid: 1, startTimeNs: start,
        snapshotTimeNs: start + UInt64(seconds * 1e9), sequence: sequence, trigger: .api)
    var totals = Snapshot.Totals()
    var stats: [Snapshot.StackStat] = []
    for (index, spec) in stacks.enumerated() {
        stats.append(
            Snapshot.StackStat(
                stack: UInt32(index), liveBytes: spec.live, liveCount: spec.liveCount,
                totalBytes: max(spec.total, spec.live), totalCount: max(spec.totalCount, spec.liveCount),
                peakBytes: spec.peak, peakCount: spec.peakCount))
        totals.liveBytes += spec.live
        totals.liveBlocks += spec.liveCount
    }
    totals.stackCount = UInt64(stacks.count)
    return Snapshot(
        path: path, header: header, process: ["exe": "/bin/app", "cmdline": "app\0"],
        totals: totals, modules: [appModule],
        stacks: stacks.map { Snapshot.Stack(pcs: $0.pcs, trueDepth: UInt32($0.pcs.count)) },
        stackStats: stats, blocks: nil, allocator: nil, timeline: timeline)
}

/// The frames of the standard test program: main → work → (inlined helper) → leaf sites.
let programFrames: [UInt64: [Frame]] = [
    0x401000: [app("main", 30)],
    0x401100: [app("work", 20)],
    0x401200: [app("helper", 12, inlined: true), app("work", 21)],
    0x401300: [app("leak_one", 5)],
    0x401400: [app("cache_put", 8)],
    0x401500: [Frame(function: "malloc", file: "", line: 0, module: "/lib/libc.so.6", offset: 0x20)],
]

/// Three stacks: a leak under work, a cache under an inlined helper, and one reached from main through malloc's frame.
func programSnapshot(path: String = "prog.snap") -> Snapshot {
    makeSnapshot(
        [
            StackSpec(
                pcs: [0x401300, 0x401100, 0x401000], live: 4000, liveCount: 40, total: 6000,
                totalCount: 60, peak: 3000, peakCount: 30),
            StackSpec(
                pcs: [0x401400, 0x401200, 0x401000], live: 1000, liveCount: 1, total: 1000,
                totalCount: 1, peak: 1000, peakCount: 1),
            StackSpec(pcs: [0x401500, 0x401000], live: 0, liveCount: 0, total: 500, totalCount: 5),
        ], path: path)
}

func traced(_ snapshot: Snapshot, table: FrameTable = FrameTable()) -> TracedSnapshot {
    TracedSnapshot(snapshot, resolver: TableResolver(table: programFrames), table: table)
}

/// Runs `executable` with `arguments`; returns status and standard output.
func run(
    _ executable: String, _ arguments: [String], stdin: Data? = nil
) throws -> (
    status: Int32, output: String, error: String
) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    let errors = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (
        process.terminationStatus, String(decoding: data, as: UTF8.self),
        String(decoding: errors, as: UTF8.self)
    )
}
