import Foundation
import SnapshotReader
import XCTest
import _MemtraceTestSupport

/// Not a timed test: a benchmark, run on request (`MEMTRACE_BENCH=1`), that
/// times `memtrace top`, `diff`, `summary` and `report` on synthetic snapshots holding
/// 1 million live blocks over 50 thousand stacks, with their symbols embedded
/// (as `memtrace symbolize` leaves them), and prints the figures.
///
///     MEMTRACE_BENCH=1 swift test --filter EndToEndTests.AnalysisBenchmark
final class AnalysisBenchmark: XCTestCase {
    static let stackCount = 50_000
    static let blockCount = 1_000_000
    static let depth = 24
    static let distinctPCs = 60_000

    /// A snapshot of a made-up program: stacks are paths through a call graph of
    /// `distinctPCs` sites, blocks spread over the stacks, and every pc has
    /// frames in the SYMBOLS section. `seed` varies the live figures.
    static func makeSnapshot(seed: UInt64, base: UInt64) -> Snapshot {
        var random = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        func next(_ bound: Int) -> Int {
            random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((random >> 33) % UInt64(bound))
        }
        var stacks: [Snapshot.Stack] = []
        var stats: [Snapshot.StackStat] = []
        var symbols: [UInt64: [Snapshot.SymbolFrame]] = [:]
        let module = "/opt/bench/bin/server"
        for id in 0..<stackCount {
            // Innermost pcs vary most; outer frames are shared, as in real programs.
            var pcs: [UInt64] = []
            for level in 0..<depth {
                let spread = max(8, distinctPCs >> min(level, 12))
                let site = (level == 0 ? id % distinctPCs : next(spread))
                pcs.append(base + UInt64(site) * 16 + UInt64(level) * 0x100000)
            }
            stacks.append(Snapshot.Stack(pcs: pcs, trueDepth: UInt32(depth)))
            let count = UInt64(blockCount / stackCount)
            let size = count * UInt64(16 + next(200))
            stats.append(
                Snapshot.StackStat(
                    stack: UInt32(id), liveBytes: size, liveCount: count, totalBytes: size * 2,
                    totalCount: count * 2,
                    peakBytes: size, peakCount: count))
            for (level, pc) in pcs.enumerated() where symbols[pc] == nil {
                let site = Int((pc - base - UInt64(level) * 0x100000) / 16)
                symbols[pc] = [
                    Snapshot.SymbolFrame(
                        function: "function_\(level)_\(site / 8)", file: "src/module\(site % 97).c",
                        line: 10 + site % 500,
                        module: module)
                ]
            }
        }
        var blocks: [Snapshot.Block] = []
        blocks.reserveCapacity(blockCount)
        for (index, stat) in stats.enumerated() {
            for block in 0..<Int(stat.liveCount) {
                blocks.append(
                    Snapshot.Block(
                        address: 0x1000_0000 + UInt64(index * 64 + block) * 32,
                        size: stat.liveBytes / stat.liveCount,
                        stack: stat.stack, flags: 0))
            }
        }
        var totals = Snapshot.Totals()
        totals.liveBlocks = UInt64(blocks.count)
        totals.liveBytes = stats.reduce(0) { $0 + $1.liveBytes }
        totals.stackCount = UInt64(stackCount)
        let header = Snapshot.Header(
            version: 1, flags: 2, framesLimit: 64, pid: UInt32(1000 + seed), ppid: 1, startTimeNs: 0,
            snapshotTimeNs: 1,
            sequence: 0, trigger: .exit)
        let modules = [
            Snapshot.Module(
                path: module, buildID: [], loadBias: base,
                segments: [Snapshot.Segment(start: base, size: 0x10_000_000, fileOffset: 0, flags: 5)])
        ]
        return Snapshot(
            path: "", header: header, process: [:], totals: totals, modules: modules, stacks: stacks,
            stackStats: stats, blocks: blocks, allocator: nil, symbols: symbols)
    }

    func testTopAndDiffOnAMillionBlocks() throws {
        try XCTSkipUnless(
            ProcessInfo.processInfo.environment["MEMTRACE_BENCH"] == "1",
            "a benchmark: set MEMTRACE_BENCH=1")
        try requireBuiltProducts()
        let work = try Workspace("bench")
        for (name, seed, base) in [
            ("old.snap", UInt64(1), UInt64(0x5555_0000_0000)), ("new.snap", 2, 0x7f00_0000_0000),
        ] {
            try SnapshotWriter.write(
                Self.makeSnapshot(seed: seed, base: base), to: work.path + "/" + name)
        }
        func time(_ arguments: [String]) throws -> Double {
            let start = Date()
            let result = try work.memtrace(arguments)
            XCTAssertEqual(result.status, 0, result.stderr)
            return Date().timeIntervalSince(start)
        }
        var report =
            "memtrace analysis benchmark: \(Self.blockCount) blocks, \(Self.stackCount) stacks of \(Self.depth) frames\n"
        for arguments in [
            ["top", "new.snap"], ["top", "new.snap", "--by", "traceback"],
            ["top", "new.snap", "--cumulative"],
            ["top", "new.snap", "--format", "json", "--limit", "0"], ["diff", "old.snap", "new.snap"],
            ["diff", "old.snap", "new.snap", "--by", "traceback"], ["summary", "new.snap"],
            ["report", "new.snap", "-o", "new.html"],
        ] {
            let best = try (0..<3).map { _ in try time(arguments) }.min()!
            report +=
                "  memtrace \(arguments.joined(separator: " ")): \(String(format: "%.2f", best)) s\n"
        }
        print(report, terminator: "")
    }
}
