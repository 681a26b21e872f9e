import Analysis
import SnapshotReader
import Symbolizer
import XCTest

/// ``SnapshotMerge``: stacks of different processes matched by frames, figures summed.
final class MergeTests: XCTestCase {
    // Process A and process B run the same program loaded at different addresses.
    let framesA: [UInt64: [Frame]] = [
        0x1100: [app("leak", "m.c", 10)], 0x1200: [app("main", "m.c", 50)],
        0x1300: [app("only_in_a", "m.c", 20)],
    ]
    let framesB: [UInt64: [Frame]] = [
        0x9100: [app("leak", "m.c", 10, module: "/other/place/bin/app")], 0x9200: [app("main", "m.c", 50)],
        0x9400: [app("inlined", "m.c", 30), app("main", "m.c", 51)],
    ]

    func inputs() -> [SnapshotMerge.Input] {
        var a = makeSnapshot(
            [
                StackSpec(pcs: [0x1100, 0x1200], size: 1000, count: 10, peakSize: 1200, peakCount: 12),
                StackSpec(pcs: [0x1300, 0x1200], size: 64, count: 1),
            ], path: "a.snap")
        a.header.pid = 100
        a.totals.liveBytes = 1064
        a.totals.allocCalls = 50
        var b = makeSnapshot(
            [
                StackSpec(pcs: [0x9100, 0x9200], size: 3000, count: 30, peakSize: 3000, peakCount: 30),
                StackSpec(pcs: [0x9400], size: 8, count: 1),
            ], path: "b.snap")
        b.header.pid = 200
        b.header.snapshotTimeNs += 1_000_000_000
        b.totals.liveBytes = 3008
        b.totals.allocCalls = 70
        return [
            SnapshotMerge.Input(snapshot: a, resolver: TableResolver(table: framesA)),
            SnapshotMerge.Input(snapshot: b, resolver: TableResolver(table: framesB)),
        ]
    }

    func testStacksMatchedByFramesAndSummed() throws {
        let merged = SnapshotMerge.merge(inputs(), path: "fleet.snap")
        XCTAssertEqual(merged.stacks.count, 3, "leak←main shared; only_in_a; inlined")
        XCTAssertEqual(merged.stackStats.map(\.liveBytes), [4000, 64, 8])
        XCTAssertEqual(merged.stackStats.map(\.liveCount), [40, 1, 1])
        XCTAssertEqual(merged.stackStats[0].peakBytes, 4200)
        XCTAssertEqual(merged.totals.liveBytes, 4072)
        XCTAssertEqual(merged.totals.allocCalls, 120)
        XCTAssertEqual(merged.totals.stackCount, 3)
        XCTAssertEqual(merged.header.pid, 0)
        XCTAssertEqual(merged.header.snapshotTimeNs, 4_500_000_000)
        XCTAssertEqual(merged.process["merged"], "2 snapshots of 2 processes")
        XCTAssertEqual(merged.process["merged_pids"], "100,200")
        XCTAssertEqual(merged.mergedFrom, "merged from 2 snapshots of 2 processes (pids 100, 200)")
        XCTAssertNil(inputs()[0].snapshot.mergedFrom, "a process's own snapshot")
        XCTAssertNil(merged.blocks)
        XCTAssertNil(merged.timeline)
        XCTAssertFalse(merged.countsTemporary, "makeSnapshot's snapshots do not count them")

        // Temporary allocations add up too, when every process counted them.
        var counted = inputs()
        for index in counted.indices {
            counted[index].snapshot.countsTemporary = true
            counted[index].snapshot.stackStats[0].temporaryCount = UInt64(5 * (index + 1))
            counted[index].snapshot.stackStats[0].temporaryBytes = UInt64(500 * (index + 1))
        }
        let both = SnapshotMerge.merge(counted, path: "fleet.snap")
        XCTAssertTrue(both.countsTemporary)
        XCTAssertEqual(both.stackStats.map(\.temporaryCount), [15, 0, 0])
        XCTAssertEqual(both.stackStats.map(\.temporaryBytes), [1500, 0, 0])
        counted[1].snapshot.countsTemporary = false  // a sampled process among them
        XCTAssertFalse(SnapshotMerge.merge(counted, path: "fleet.snap").countsTemporary)

        // Every pc has its frames embedded, inlined frames included.
        let symbols = try XCTUnwrap(merged.symbols)
        XCTAssertEqual(Set(merged.stacks.flatMap(\.pcs)), Set(symbols.keys))
        XCTAssertTrue(symbols.keys.allSatisfy { $0 >= SnapshotMerge.firstAddress })
        let inlined = try XCTUnwrap(symbols[merged.stacks[2].pcs[0]])
        XCTAssertEqual(inlined.map(\.function), ["inlined", "main"])

        // It survives the file format and analyses like any snapshot.
        let read = try SnapshotFile.parse(SnapshotWriter.encode(merged), path: "fleet.snap")
        let traced = TracedSnapshot(read, resolver: Symbolizer(snapshot: read))
        let stats = try traced.statistics(StatisticsOptions(groupBy: .function))
        XCTAssertEqual(stats.map(\.frames[0].function), ["leak", "only_in_a", "inlined"])
        XCTAssertEqual(stats.map(\.size), [4000, 64, 8])
    }

    /// Mismatched releases of the same two stacks and ways add up across processes; a release
    /// stack with no STACK_STATS record (B's free in main) joins the merged stacks without one.
    func testMismatchedReleasesAreMatchedByFramesAndSummed() throws {
        var parts = inputs()
        parts[0].snapshot.stacks.append(Snapshot.Stack(pcs: [0x1200], trueDepth: 1))
        parts[0].snapshot.mismatches = [
            Snapshot.Mismatch(
                allocStack: 0, releaseStack: 2, allocatedBy: .new, releasedBy: .free, count: 2, bytes: 200)
        ]
        parts[0].snapshot.totals.mismatchBlocks = 2
        parts[1].snapshot.stacks.append(Snapshot.Stack(pcs: [0x9200], trueDepth: 1))
        parts[1].snapshot.mismatches = [
            Snapshot.Mismatch(
                allocStack: 0, releaseStack: 2, allocatedBy: .new, releasedBy: .free, count: 3, bytes: 300),
            Snapshot.Mismatch(
                allocStack: 1, releaseStack: 2, allocatedBy: .newArray, releasedBy: .free, count: 1, bytes: 8),
        ]
        parts[1].snapshot.totals.mismatchBlocks = 4
        let merged = SnapshotMerge.merge(parts, path: "fleet.snap")
        XCTAssertEqual(merged.totals.mismatchBlocks, 6)
        XCTAssertEqual(merged.stacks.count, 4, "leak←main, only_in_a, main (the free), inlined")
        XCTAssertEqual(merged.stackStats.count, 3)
        XCTAssertEqual(merged.mismatches.map(\.count), [5, 1])
        XCTAssertEqual(merged.mismatches.map(\.bytes), [500, 8])
        XCTAssertEqual(merged.mismatches.map(\.allocatedBy), [.new, .newArray])
        let read = try SnapshotFile.parse(SnapshotWriter.encode(merged), path: "fleet.snap")
        let traced = TracedSnapshot(read, resolver: Symbolizer(snapshot: read))
        XCTAssertEqual(
            traced.mismatches.map { [$0.allocation[0].function, $0.release[0].function] },
            [["leak", "main"], ["inlined", "main"]])
    }

    func testMergingOneSnapshotKeepsItsFigures() {
        let one = [inputs()[0]]
        let merged = SnapshotMerge.merge(one)
        XCTAssertEqual(merged.stackStats.map(\.liveBytes), [1000, 64])
        XCTAssertEqual(merged.process["merged"], "1 snapshot of 1 process")
        XCTAssertEqual(merged.mergedFrom, "merged from 1 snapshot of 1 process (pid 100)")
        // A merged input counts the processes it was merged from.
        var third = inputs()[1]
        third.snapshot.header.pid = 300
        let again = SnapshotMerge.merge(
            [SnapshotMerge.Input(snapshot: SnapshotMerge.merge(inputs()), resolver: TableResolver(table: [:])), third])
        XCTAssertEqual(again.mergedFrom, "merged from 2 snapshots of 3 processes (pids 100, 200, 300)")
    }
}
