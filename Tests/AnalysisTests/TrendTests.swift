import Analysis
import SnapshotReader
import Symbolizer
import XCTest

/// Least squares, classification and ranking of ``TrendAnalysis`` on hand-made series.
final class TrendTests: XCTestCase {
    let frames: [UInt64: [Frame]] = [
        0x10: [app("leak", "t.c", 10)], 0x20: [app("cache", "t.c", 20)],
        0x30: [app("drain", "t.c", 30)], 0x40: [app("fixed", "t.c", 40)],
        0x50: [app("slowing", "t.c", 50)],
    ]

    /// One snapshot per element of `seconds`; `series[pc]` gives each stack's live bytes at each.
    func snapshots(_ seconds: [Double], _ series: [UInt64: [UInt64]]) -> [TracedSnapshot] {
        let table = FrameTable()
        let pcs = series.keys.sorted()
        return seconds.enumerated().map { index, time in
            var snapshot = makeSnapshot(
                pcs.map { StackSpec(pcs: [$0], size: series[$0]![index], count: series[$0]![index] / 100) },
                path: "s\(index).snap")
            snapshot.header.snapshotTimeNs = 1_000_000_000 + UInt64(time * 1e9)
            snapshot.header.sequence = UInt64(index)
            return TracedSnapshot(snapshot, resolver: TableResolver(table: frames), table: table)
        }
    }

    func testLeastSquares() {
        let line = TrendAnalysis.fit([0, 1, 2, 3], [5, 7, 9, 11])
        XCTAssertEqual(line.slope, 2, accuracy: 1e-12)
        XCTAssertEqual(line.rSquared, 1, accuracy: 1e-12)
        let flat = TrendAnalysis.fit([0, 1, 2], [4, 4, 4])
        XCTAssertEqual(flat.slope, 0)
        XCTAssertEqual(flat.rSquared, 1)
        // y = 0, 1, 0, 1: slope 0.2, R² = 0.2.
        let noisy = TrendAnalysis.fit([0, 1, 2, 3], [0, 1, 0, 1])
        XCTAssertEqual(noisy.slope, 0.2, accuracy: 1e-12)
        XCTAssertEqual(noisy.rSquared, 0.2, accuracy: 1e-12)
    }

    func testLeakCachePlateauShrinkSteady() throws {
        let traced = snapshots(
            [0, 1, 2, 3, 4, 5],
            [
                0x10: [1000, 2000, 3000, 4000, 5000, 6000],
                0x20: [0, 4000, 8000, 8000, 8000, 8000],
                0x30: [5000, 5000, 5000, 5000, 3000, 1000],
                0x40: [700, 700, 700, 700, 700, 700],
                0x50: [0, 3000, 5000, 6000, 6500, 6800],
            ])
        let analysis = try TrendAnalysis(traced, options: StatisticsOptions(groupBy: .lineno))
        XCTAssertEqual(analysis.times, [0, 1, 2, 3, 4, 5])
        let kinds = analysis.trends.map { ($0.frames[0].function, $0.kind) }
        XCTAssertEqual(kinds.map(\.0), ["leak", "slowing", "cache", "drain", "fixed"])
        XCTAssertEqual(kinds.map(\.1), [.grows, .slows, .plateaus, .shrinks, .steady])
        let leak = analysis.trends[0]
        XCTAssertEqual(leak.slope, 1000, accuracy: 1e-9)
        XCTAssertEqual(leak.rSquared, 1, accuracy: 1e-12)
        XCTAssertEqual(leak.recentSlope, 1000, accuracy: 1e-9)
        XCTAssertEqual(leak.growth, 5000)
        XCTAssertEqual(leak.sizes, [1000, 2000, 3000, 4000, 5000, 6000])
        XCTAssertEqual(leak.counts, [10, 20, 30, 40, 50, 60])
        let cache = analysis.trends[2]
        XCTAssertEqual(cache.recentSlope, 0)
        XCTAssertGreaterThan(cache.slope, 0)
        XCTAssertLessThan(cache.rSquared, 0.8)
    }

    func testSnapshotsAreOrderedByTimeNotByArgument() throws {
        let traced = snapshots([0, 1, 2, 3], [0x10: [100, 200, 300, 400]])
        let shuffled = [traced[2], traced[0], traced[3], traced[1]]
        let analysis = try TrendAnalysis(shuffled, options: StatisticsOptions(groupBy: .lineno))
        XCTAssertEqual(analysis.snapshots.map(\.path), ["s0.snap", "s1.snap", "s2.snap", "s3.snap"])
        XCTAssertEqual(analysis.trends[0].sizes, [100, 200, 300, 400])
        XCTAssertEqual(analysis.trends[0].kind, .grows)
    }

    func testAGroupMissingFromSomeSnapshotsCountsAsZero() throws {
        let traced = snapshots([0, 1, 2], [0x10: [0, 0, 300], 0x40: [5, 5, 5]])
        let analysis = try TrendAnalysis(traced, options: StatisticsOptions(groupBy: .lineno))
        let late = try XCTUnwrap(analysis.trends.first { $0.frames[0].function == "leak" })
        XCTAssertEqual(late.sizes, [0, 0, 300])
        XCTAssertEqual(late.kind, .grows)
    }

    func testASeriesThatOnlyWobblesIsSteady() throws {
        // Ends higher than it began and its last third climbs, but the points scatter far more
        // than the line through them rises (slope 2.4 B/s, R² 0.003): not growth.
        let wobble: [UInt64] = [800, 1000, 600, 1000, 700, 900, 600, 1000, 800, 600, 1000, 900]
        let traced = snapshots((0..<12).map(Double.init), [0x10: wobble, 0x20: (0..<12).map { 100 * $0 }])
        let analysis = try TrendAnalysis(traced, options: StatisticsOptions(groupBy: .lineno))
        let wobbling = try XCTUnwrap(analysis.trends.first { $0.frames[0].function == "leak" })
        XCTAssertEqual(wobbling.slope, 2.4476, accuracy: 1e-4)
        XCTAssertLessThan(wobbling.rSquared, 0.01)
        XCTAssertEqual(wobbling.kind, .steady)
        XCTAssertEqual(analysis.trends.first?.kind, .grows)
        // At the edge: t² = R²(n-2)/(1-R²) = 1.
        XCTAssertEqual(
            TrendAnalysis.classify(sizes: [1, 2, 3, 4, 5], slope: 1, recentSlope: 1, rSquared: 0.25), .grows)
        XCTAssertEqual(
            TrendAnalysis.classify(sizes: [1, 2, 3, 4, 5], slope: 1, recentSlope: 1, rSquared: 0.24), .steady)
    }

    func testNeedsThreeSnapshotsAtDifferentTimes() {
        XCTAssertThrowsError(
            try TrendAnalysis(snapshots([0, 1], [0x10: [1, 2]]), options: StatisticsOptions())
        ) { error in
            XCTAssertTrue("\(error)".contains("at least 3 snapshots"), "\(error)")
        }
        XCTAssertThrowsError(
            try TrendAnalysis(snapshots([2, 2, 2], [0x10: [1, 2, 3]]), options: StatisticsOptions())
        ) { error in
            XCTAssertTrue("\(error)".contains("same moment"), "\(error)")
        }
    }

    func testClassifyEdges() {
        XCTAssertEqual(TrendAnalysis.classify(sizes: [], slope: 0, recentSlope: 0), .steady)
        // Filled, then a few entries evicted: still a plateau, not a shrink.
        XCTAssertEqual(
            TrendAnalysis.classify(sizes: [0, 100, 100, 95], slope: 30, recentSlope: -5), .plateaus)
        XCTAssertEqual(
            TrendAnalysis.classify(sizes: [0, 100, 100, 20], slope: 3, recentSlope: -80), .shrinks)
        XCTAssertEqual(
            TrendAnalysis.classify(sizes: [10, 20, 30], slope: 10, recentSlope: 5), .grows)
        XCTAssertEqual(
            TrendAnalysis.classify(sizes: [10, 20, 30], slope: 10, recentSlope: 4.9), .slows)
    }
}
