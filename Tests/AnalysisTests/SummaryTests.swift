import Analysis
import SnapshotReader
import Symbolizer
import XCTest

final class SummaryTests: XCTestCase {
    let resolver = TableResolver(table: [
        0x100: [app("make_list", "examples/leaky.c", 12)],
        0x200: [app("burst", "examples/leaky.c", 40)],
    ])

    func testCrossCheckUnderJemalloc() {
        var totals = Snapshot.Totals()
        totals.liveUsableBytes = 10_000
        let snapshot = makeSnapshot(
            [],
            allocator: Snapshot.AllocatorStats(
                kind: .jemalloc, values: [("stats.allocated", 12_048), ("stats.active", 50_000)]),
            totals: totals)
        let check = AllocatorCrossCheck(snapshot)
        XCTAssertEqual(check?.allocatorBytes, 12_048)
        XCTAssertEqual(check?.tracedBytes, 10_000)
        XCTAssertEqual(check?.difference, 2048)
        XCTAssertEqual(check?.source, "jemalloc stats.allocated")
    }

    func testCrossCheckUnderGlibc() {
        var totals = Snapshot.Totals()
        totals.liveUsableBytes = 300_000
        let snapshot = makeSnapshot(
            [],
            allocator: Snapshot.AllocatorStats(
                kind: .glibc, values: [("arena", 1), ("uordblks", 100_000), ("hblkhd", 200_000)]),
            totals: totals)
        XCTAssertEqual(AllocatorCrossCheck(snapshot)?.allocatorBytes, 300_000)
        XCTAssertEqual(AllocatorCrossCheck(snapshot)?.difference, 0)
        XCTAssertNil(AllocatorCrossCheck(makeSnapshot([])))
    }

    /// Blocks written one byte past their end: a line among the totals and their sites, most
    /// blocks first, stacks of one line added up; nothing of either when there are none.
    func testOverrunsAreListedBySite() {
        let resolver = TableResolver(table: [
            0x100: [app("make_list", "examples/leaky.c", 12)],
            0x101: [app("make_list", "examples/leaky.c", 12)],
            0x200: [app("burst", "examples/leaky.c", 40)],
        ])
        var totals = Snapshot.Totals()
        totals.overrunBlocks = 6
        var snapshot = makeSnapshot(
            [
                StackSpec(pcs: [0x200], size: 64, count: 1), StackSpec(pcs: [0x100], size: 96, count: 3),
                StackSpec(pcs: [0x101], size: 32, count: 1),
            ], totals: totals)
        snapshot.stackStats[0].overrunCount = 2
        snapshot.stackStats[0].overrunBytes = 128
        snapshot.stackStats[1].overrunCount = 3
        snapshot.stackStats[1].overrunBytes = 96
        snapshot.stackStats[2].overrunCount = 1
        snapshot.stackStats[2].overrunBytes = 32
        let text = Summary(TracedSnapshot(snapshot, resolver: resolver)).render()
        XCTAssertTrue(
            text.contains("Overruns: 6 blocks written one byte past the end: heap overruns, sites below\n"), text)
        XCTAssertTrue(
            text.contains(
                """

                Heap overruns (blocks written one byte past the end, found at their release or a snapshot):
                  examples/leaky.c:12 in make_list: size=128 B, count=4, average=32 B
                  examples/leaky.c:40 in burst: size=128 B, count=2, average=64 B

                """), text)
        let clean = Summary(
            TracedSnapshot(makeSnapshot([StackSpec(pcs: [0x200], size: 64, count: 1)]), resolver: resolver)
        )
        .render()
        XCTAssertFalse(clean.contains("Overruns") || clean.contains("Heap overruns"), clean)
        XCTAssertFalse(clean.contains("Mismatched"), clean)
    }

    /// Mismatched releases: a line among the totals, then each pair of ways with the innermost
    /// line of the allocation and of the release, most blocks first.
    func testMismatchedReleasesAreListed() {
        let resolver = TableResolver(table: [
            0x100: [app("make_list", "examples/leaky.c", 12)],
            0x200: [app("burst", "examples/leaky.c", 40)],
            0x300: [app("drop", "examples/leaky.c", 50)],
        ])
        var totals = Snapshot.Totals()
        totals.mismatchBlocks = 4
        var snapshot = makeSnapshot(
            [StackSpec(pcs: [0x100], size: 64, count: 1), StackSpec(pcs: [0x200], size: 96, count: 3)],
            totals: totals)
        snapshot.stacks.append(Snapshot.Stack(pcs: [0x300], trueDepth: 1))
        snapshot.mismatches = [
            Snapshot.Mismatch(
                allocStack: 0, releaseStack: 2, allocatedBy: .new, releasedBy: .free, count: 1, bytes: 16),
            Snapshot.Mismatch(
                allocStack: 1, releaseStack: 2, allocatedBy: .newArray, releasedBy: .delete, count: 3, bytes: 96),
        ]
        let text = Summary(TracedSnapshot(snapshot, resolver: resolver)).render()
        XCTAssertTrue(
            text.contains("Mismatched: 4 blocks released otherwise than allocated (free of new...), sites below\n"),
            text)
        XCTAssertTrue(
            text.contains(
                """

                Mismatched releases (allocated one way, released another):
                  new[] released with delete: size=96 B, count=3; allocated at examples/leaky.c:40 in burst, released at examples/leaky.c:50 in drop
                  new released with free: size=16 B, count=1; allocated at examples/leaky.c:12 in make_list, released at examples/leaky.c:50 in drop

                """), text)
    }

    func testRender() {
        var totals = Snapshot.Totals()
        totals.liveBytes = 142_336
        totals.liveBlocks = 1002
        totals.liveUsableBytes = 160_000
        totals.peakBytes = 1_200_000
        totals.peakTimeNs = 2_000_000_000
        totals.allocCalls = 2000
        totals.freeCalls = 998
        totals.tracerOverheadBytes = 4 << 20
        let snapshot = makeSnapshot(
            [
                StackSpec(pcs: [0x100], size: 142_336, count: 1002, peakSize: 142_336, peakCount: 1002),
                StackSpec(
                    pcs: [0x200], size: 0, count: 0, peakSize: 1_048_576, peakCount: 1, totalSize: 3_145_728,
                    totalCount: 3000),
            ], flags: 0,
            allocator: Snapshot.AllocatorStats(
                kind: .glibc, values: [("uordblks", 170_000), ("hblkhd", 0)]),
            totals: totals)
        let summary = Summary(TracedSnapshot(snapshot, resolver: resolver))
        XCTAssertEqual(summary.topAtPeak.map(\.size), [1_048_576, 142_336])
        XCTAssertEqual(summary.mostCalls.map(\.count), [3000, 1002])
        let text = summary.render()
        XCTAssertTrue(
            text.contains(
                """

                Most allocation calls (every allocation, released or not):
                  examples/leaky.c:40 in burst: size=3072 KiB, count=3000, average=1049 B
                  examples/leaky.c:12 in make_list: size=139 KiB, count=1002, average=142 B

                """), text)
        XCTAssertTrue(
            text.contains("Live:     139 KiB (142336 B) in 1002 blocks (156 KiB (160000 B) usable)\n"),
            text)
        XCTAssertTrue(
            text.contains("Peak:     1172 KiB (1200000 B), 1.000 s after tracing started\n"), text)
        XCTAssertTrue(text.contains("Process:  pid 42, parent 1: app --flag\n"), text)
        XCTAssertTrue(
            text.contains("  examples/leaky.c:40 in burst: size=1024 KiB, count=1, average=1024 KiB\n"),
            text)
        XCTAssertTrue(text.contains("Tracer:   4096 KiB (4194304 B) of its own memory\n"), text)
        XCTAssertTrue(
            text.contains("difference:                        +10000 B, 5.88% of the allocator's\n"), text
        )
        XCTAssertTrue(text.contains("Sampling: off"), text)
        XCTAssertTrue(
            text.contains("Taken:    at exit, 2.500 s after tracing started (snapshot #0)\n"), text)

        // The tracer reads the peak's time from the coarse clock, which may put it before the start.
        var early = snapshot
        early.totals.peakTimeNs = early.header.startTimeNs - 1
        XCTAssertTrue(
            Summary(TracedSnapshot(early, resolver: resolver)).render().contains(
                "Peak:     1172 KiB (1200000 B), 0.000 s after tracing started\n"))

        var sampled = snapshot
        sampled.header.flags = 1
        sampled.totals.sampleRate = 512 * 1024
        sampled.allocator = nil
        let other = Summary(TracedSnapshot(sampled, resolver: resolver)).render()
        XCTAssertTrue(
            other.contains(
                "Sampling: sampled, one sample per 512 KiB on average: figures are estimates (±10% for a site of 50.0 MiB, ±√(size × 512 KiB) in general); the peak runs high\n"
            ), other)
        XCTAssertTrue(other.contains("  not available: the snapshot carries no allocator statistics\n"), other)
        sampled.allocator = Snapshot.AllocatorStats(kind: .unknown, values: [])
        let left = Summary(TracedSnapshot(sampled, resolver: resolver)).render()
        XCTAssertTrue(
            left.contains("  not available: the tracer left the allocator's statistics out of this snapshot ("), left)

        var ended = snapshot
        ended.header.trigger = .termination
        ended.process["signal"] = "SIGTERM"
        let killed = Summary(TracedSnapshot(ended, resolver: resolver)).render()
        XCTAssertTrue(
            killed.contains("Taken:    when SIGTERM ended the program, 2.500 s after tracing started (snapshot #0)\n"),
            killed)
        // A program ended by a signal writes no exit snapshot: nothing points at one.
        ended.allocator = Snapshot.AllocatorStats(kind: .unknown, values: [])
        let killedLeft = Summary(TracedSnapshot(ended, resolver: resolver)).render()
        XCTAssertTrue(
            killedLeft.contains(
                "  not available: a signal was ending the program, and the tracer leaves the allocator alone then\n"),
            killedLeft)

        var quick = snapshot
        quick.process["exit"] = "_exit"
        let quickText = Summary(TracedSnapshot(quick, resolver: resolver)).render()
        XCTAssertTrue(
            quickText.contains(
                "Taken:    at _exit() (no atexit handler or destructor ran), 2.500 s after tracing started (snapshot #0)\n"
            ),
            quickText)
    }

    /// The SIZES section as a histogram: one row per class from the first to the last that is not
    /// empty, labelled by its smallest size, with its share of the calls and a bar scaled to the
    /// busiest class.
    func testAllocationSizesAreDrawnAsAHistogram() {
        var classes = Array(repeating: Snapshot.SizeClass(count: 0, bytes: 0), count: 12)
        classes[4] = .init(count: 30, bytes: 720)  // 16 to 31 bytes
        classes[6] = .init(count: 10, bytes: 1000)  // 64 to 127 bytes
        classes[11] = .init(count: 1, bytes: 3000)  // 2 KiB to 4 KiB - 1
        XCTAssertEqual(
            Summary.sizeHistogram(classes, width: 9),
            """
              16 B   30  73.2%   720 B  █████████
              32 B    0   0.0%     0 B
              64 B   10  24.4%  1000 B  ███
              128 B   0   0.0%     0 B
              256 B   0   0.0%     0 B
              512 B   0   0.0%     0 B
              1 KiB   0   0.0%     0 B
              2 KiB   1   2.4%  3000 B  █

            """)
        XCTAssertNil(Summary.sizeHistogram([]))
        XCTAssertNil(Summary.sizeHistogram([.init(count: 0, bytes: 0)]))
        XCTAssertEqual(
            [0, 1, 9, 10, 20, 33, 63].map(SizeHistogram.lowerBound(ofClass:)),
            ["0 B", "2 B", "512 B", "1 KiB", "1 MiB", "8 GiB", "8 EiB"])

        var snapshot = makeSnapshot([StackSpec(pcs: [0x100], size: 16, count: 1)], flags: 0)
        XCTAssertFalse(Summary(TracedSnapshot(snapshot, resolver: resolver)).render().contains("Allocation sizes"))
        snapshot.sizeClasses = classes
        let text = Summary(TracedSnapshot(snapshot, resolver: resolver)).render()
        XCTAssertTrue(
            text.contains(
                "\nAllocation sizes (every allocation, by requested size: from this size to the next row's):\n"
                    + "  16 B   30  73.2%   720 B  " + String(repeating: "█", count: 30) + "\n"), text)
    }
}
