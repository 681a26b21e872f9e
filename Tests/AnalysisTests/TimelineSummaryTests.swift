import Analysis
import SnapshotReader
import XCTest

/// `memtrace summary`'s Timeline line, from the TIMELINE section.
final class TimelineSummaryTests: XCTestCase {
    func testSparkline() {
        XCTAssertEqual(Summary.sparkline([0, 1, 2, 3, 4, 5, 6, 7]), "▁▂▃▄▅▆▇█")
        XCTAssertEqual(Summary.sparkline([5, 5, 5]), "███")
        XCTAssertEqual(Summary.sparkline([0, 0]), "▁▁")
        // Seven values in three characters, the highest of each of their thirds, then the last.
        XCTAssertEqual(Summary.sparkline([0, 7, 0, 0, 3, 1, 7, 7], width: 4), "█▁██")
        // A heap freed at the end: the last character shows the drop the highest would hide.
        XCTAssertEqual(Summary.sparkline([0, 7, 0, 0, 3, 1, 7, 0], width: 4), "█▁█▁")
        XCTAssertEqual(Summary.sparkline([7, 7, 7, 7, 7, 7, 0], width: 3), "██▁")
        XCTAssertEqual(Summary.sparkline([1, 2, 3], width: 1), "█")
        XCTAssertEqual(Summary.sparkline([]), "")
    }

    func testTimelineLine() throws {
        var snapshot = makeSnapshot([StackSpec(pcs: [0x10], size: 100, count: 1)])
        let text = Summary(TracedSnapshot(snapshot, resolver: TableResolver(table: [:]))).render()
        XCTAssertFalse(text.contains("Timeline:"), "no TIMELINE section, no line")
        snapshot.timeline = (0..<4).map { index in
            Snapshot.TimelinePoint(
                timeNs: 1_000_000_000 + UInt64(index) * 250_000_000, currentBytes: UInt64(index) * 20 * 1024,
                peakBytes: UInt64(index) * 20 * 1024, rssBytes: (2 + UInt64(index)) << 20)
        }
        let summary = Summary(TracedSnapshot(snapshot, resolver: TableResolver(table: [:]))).render()
        let line = try XCTUnwrap(summary.split(separator: "\n").first { $0.hasPrefix("Timeline:") })
        XCTAssertEqual(
            line.drop { $0 != ":" }.dropFirst().drop { $0 == " " },
            "4 points over 0.750 s: live ▁▃▆█ 0 B → 60.0 KiB; RSS 2048 KiB → 5120 KiB")
        // A process that gave memory back: its highest resident set size too.
        snapshot.timeline?[3].rssBytes = 3 << 20
        let shrunk = Summary(TracedSnapshot(snapshot, resolver: TableResolver(table: [:]))).render()
        XCTAssertTrue(shrunk.contains("; RSS 2048 KiB → 3072 KiB, at most 4096 KiB\n"), shrunk)
    }
}
